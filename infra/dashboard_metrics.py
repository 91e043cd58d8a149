#!/usr/bin/env python3
"""The starfarm_* metrics that the Grafana dashboards and Prometheus alert rules use.

    dashboard_metrics.py                  print the metric names used (one per line)
    dashboard_metrics.py --check-known    also check them, and the label names they select or
                                          group by, against EXPORTED below (exit 1 if not)
    dashboard_metrics.py --as-rules FILE  write every dashboard and alert expression as a
                                          recording rule into FILE (for `promtool check rules`,
                                          which parses PromQL)
    dashboard_metrics.py --scrape FILE... [--allow-missing NAME[,NAME…]]…
                                          check that every name used appears in the scraped
                                          Prometheus text of running processes (exit 1 and
                                          list the missing ones)

Histogram series (`_bucket`, `_sum`, `_count`) count as their family's name. Used by
infra/check.sh. Standard library only.
"""
import argparse
import glob
import json
import os
import re
import sys

INFRA = os.path.dirname(os.path.abspath(__file__))
DASHBOARDS = os.path.join(INFRA, "grafana", "dashboards", "*.json")
ALERTS = os.path.join(INFRA, "prometheus", "alerts.yml")

# What the binaries export: name -> (type, labels). Read from scheduler/src/api/metrics.rs,
# sequencer/src/metrics.rs, sequencer/src/node/metrics.rs and l1/src/metrics.rs. Keep in step with them.
EXPORTED = {
    # scheduler /metrics
    "starfarm_jobs": ("gauge", {"state"}),
    "starfarm_queue_depth": ("gauge", set()),
    "starfarm_api_submissions_total": ("counter", {"result"}),
    "starfarm_api_cancellations_total": ("counter", {"result"}),
    "starfarm_proofs_total": ("counter", {"kind", "backend"}),
    "starfarm_proven_steps_total": ("counter", {"backend"}),
    "starfarm_proof_phase_seconds": ("histogram", {"phase"}),
    "starfarm_artifacts_total": ("counter", {"result"}),
    "starfarm_lease_expiries_total": ("counter", set()),
    "starfarm_job_retries_total": ("counter", {"cause"}),
    "starfarm_gpu_kernel_calls_total": ("counter", {"backend"}),
    "starfarm_gpu_fallbacks_total": ("counter", {"backend"}),
    "starfarm_gpu_memory_fallbacks_total": ("counter", {"backend"}),
    "starfarm_store_unavailable_total": ("counter", {"during"}),
    "starfarm_proof_seconds_total": ("counter", {"backend", "phase"}),
    "starfarm_proof_cost_usd_total": ("counter", {"backend"}),
    # scheduler /metrics with --settle (settlement line)
    "starfarm_l1_submissions_total": ("counter", {"call", "result"}),
    "starfarm_l1_gas_used_total": ("counter", {"call"}),
    "starfarm_l1_last_settled_block": ("gauge", set()),
    "starfarm_l1_blocks_pending_settlement": ("gauge", set()),
    "starfarm_l1_settlement_stopped": ("gauge", set()),
    "starfarm_l1_settled_transactions_total": ("counter", set()),
    "starfarm_l1_settled_proof_cost_usd_total": ("counter", set()),
    # sequencer /metrics (its JSON-RPC port)
    "starfarm_sequencer_transactions_total": ("counter", {"status"}),
    "starfarm_sequencer_mempool_depth": ("gauge", set()),
    "starfarm_sequencer_latest_block": ("gauge", set()),
    "starfarm_sequencer_block_build_seconds": ("histogram", set()),
    "starfarm_sequencer_block_transactions": ("histogram", set()),
    "starfarm_sequencer_publish_failures_total": ("counter", set()),
    "starfarm_sequencer_published_blocks_total": ("counter", set()),
    "starfarm_sequencer_unpublished_blocks": ("gauge", set()),
    "starfarm_sequencer_disk_free_bytes": ("gauge", set()),
    "starfarm_sequencer_disk_refusals_total": ("counter", set()),
    # node /metrics (its JSON-RPC port; every family carries the registry's `mode` label)
    "starfarm_node_sync_failures_total": ("counter", {"mode"}),
}
# Labelled families the prometheus crate leaves out of /metrics until their first event
# (an empty vector is not exported). starfarm_jobs is set for every state at start-up.
# The GPU counters are set to 0 for every backend at start-up too, and the job store's
# unavailability counter for every `during`, and the cost counters for every backend
# (and phase).
# A node's `mode` is a constant label: its families are there from the start.
EAGER = {
    "starfarm_jobs",
    "starfarm_gpu_kernel_calls_total",
    "starfarm_gpu_fallbacks_total",
    "starfarm_gpu_memory_fallbacks_total",
    "starfarm_store_unavailable_total",
    "starfarm_node_sync_failures_total",
    "starfarm_proof_seconds_total",
    "starfarm_proof_cost_usd_total",
}
LAZY = {name for name, (_, labels) in EXPORTED.items() if labels and name not in EAGER}

SUFFIXES = ("_bucket", "_sum", "_count")
NAME = re.compile(r"\bstarfarm_[A-Za-z0-9_]*[A-Za-z0-9]")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
SELECTOR = re.compile(r"\b(starfarm_[A-Za-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def family(name):
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if EXPORTED.get(base, ("",))[0] == "histogram" or base not in EXPORTED:
                return base
    return name


def _walk(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                found.append(value)
            else:
                _walk(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found)


def expressions():
    """(where, expr) for every PromQL expression of the dashboards and alert rules."""
    out = []
    for path in sorted(glob.glob(DASHBOARDS)):
        with open(path) as f:
            found = []
            _walk(json.load(f), found)
        out += [(os.path.relpath(path, INFRA), e) for e in found]
    if os.path.exists(ALERTS):
        import yaml  # python3-yaml; only the alert rules need it

        with open(ALERTS) as f:
            doc = yaml.safe_load(f) or {}
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                where = f"{os.path.relpath(ALERTS, INFRA)}:{rule.get('alert') or rule.get('record')}"
                out.append((where, str(rule.get("expr", ""))))
    return out


def names_in(expr):
    return {family(n) for n in NAME.findall(STRING.sub('""', expr))}


def used_names():
    names = set()
    for _, expr in expressions():
        names |= names_in(expr)
    return names


def check_known():
    problems = []
    for where, expr in expressions():
        bare = STRING.sub('""', expr)
        names = names_in(expr)
        for name in sorted(names):
            if name not in EXPORTED:
                problems.append(f"{where}: {name} is not a metric the binaries export")
        for name, body in SELECTOR.findall(expr):
            base = family(name)
            if base not in EXPORTED:
                continue
            allowed = EXPORTED[base][1] | ({"le"} if name.endswith("_bucket") else set())
            for label in MATCHER.findall(STRING.sub('""', body)):
                if label not in allowed and label not in ("job", "instance"):
                    problems.append(f"{where}: {name} has no label {label!r}")
        known = set().union(*(EXPORTED[n][1] for n in names if n in EXPORTED)) | {"le", "job", "instance"}
        for group in GROUPING.findall(bare):
            for label in (l.strip() for l in group.split(",")):
                if label and label not in known:
                    problems.append(f"{where}: groups by {label!r}, a label none of {sorted(names)} has")
    return problems


def scraped(paths):
    """(names present, {family: label names seen}) in Prometheus text files."""
    present, labels = set(), {}
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("# TYPE ") or line.startswith("# HELP "):
                    parts = line.split()
                    if len(parts) >= 3:
                        present.add(parts[2])
                elif line and not line.startswith("#"):
                    m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?", line)
                    if m:
                        base = family(m.group(1))
                        present.add(m.group(1))
                        present.add(base)
                        seen = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=\"", m.group(2) or "")) - {"le"}
                        labels.setdefault(base, set()).update(seen)
    return present, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-known", action="store_true")
    ap.add_argument("--as-rules", metavar="FILE")
    ap.add_argument("--scrape", nargs="+", metavar="FILE")
    ap.add_argument("--allow-missing", action="append", default=[], metavar="NAME[,NAME…]")
    args = ap.parse_args()

    used = used_names()
    if args.as_rules:
        rules = []
        for i, (where, expr) in enumerate(expressions()):
            # Grafana's interval variables, should a panel use them.
            expr = re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)
            rules.append(f"      - record: starfarm_check:expr_{i}\n"
                         f"        # {where}\n"
                         f"        expr: {json.dumps(expr)}\n")
        with open(args.as_rules, "w") as f:
            f.write("groups:\n  - name: dashboard-and-alert-expressions\n    rules:\n" + "".join(rules))
        print(f"{len(rules)} expressions written to {args.as_rules}")
        return 0
    if args.check_known:
        problems = check_known()
        for p in problems:
            print(p)
        if problems:
            return 1
        print(f"{len(used)} metric names used by dashboards and alerts, all exported, labels consistent")
        return 0
    if args.scrape:
        allowed = {n.strip() for a in args.allow_missing for n in a.split(",") if n.strip()}
        present, labels = scraped(args.scrape)
        missing = sorted(used - present)
        bad = [n for n in missing if n not in allowed]
        relabelled = []
        # The table above must match the binaries: the label check of --check-known relies on it.
        for name, seen in sorted(labels.items()):
            if not name.startswith("starfarm_"):
                continue
            if name not in EXPORTED:
                print(f"note: {name} is exported but not in dashboard_metrics.py's EXPORTED table")
            elif seen != EXPORTED[name][1]:
                print(f"labels differ: {name} exports {sorted(seen)}, EXPORTED says {sorted(EXPORTED[name][1])}")
                relabelled.append(name)
        for name in missing:
            notes = []
            if name in LAZY:
                notes.append("labelled: absent until its first event")
            if name.startswith("starfarm_l1_"):
                notes.append("scheduler with --settle only")
            if name in allowed:
                notes.append("allowed")
            print(f"missing: {name}" + (f" ({'; '.join(notes)})" if notes else ""))
        print(f"{len(used) - len(missing)}/{len(used)} metric names used by dashboards and alerts "
              f"found in {len(args.scrape)} file(s); {len(bad)} missing and not allowed, "
              f"{len(relabelled)} with labels other than EXPORTED")
        return 1 if bad or relabelled else 0
    for name in sorted(used):
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

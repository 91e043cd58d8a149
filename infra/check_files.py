#!/usr/bin/env python3
"""Structural checks of infra/ that need no external tool (infra/check.sh runs them).

    check_files.py dashboards        JSON parses, panel ids unique per dashboard, datasource uid
    check_files.py yaml              every .yml/.yaml outside Helm templates parses
    check_files.py compose           depends_on names services, named volumes declared,
                                     ports are strings, conditions are known
    check_files.py helm              balanced {{ }} in templates, every .Values path exists
                                     in values.yaml
    check_files.py helm-rendered F   a `helm template` output: every document parses, has
                                     apiVersion/kind/metadata.name, names unique per kind
    check_files.py prometheus        rule groups: alert/expr/labels.severity, balanced
                                     brackets; scrape configs have targets; every alert
                                     fires in a test of prometheus/alerts.test.yml
    check_files.py dockerfiles       the nightly pinned in the Dockerfiles is the known-good
                                     one rust-toolchain.toml names; ENTRYPOINT is starfarm

Each prints what it checked and exits 1 on a problem.
"""
import glob
import json
import os
import re
import sys

import yaml

INFRA = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(INFRA)
CHART = os.path.join(INFRA, "helm", "starfarm")


def rel(p):
    return os.path.relpath(p, ROOT)


def dashboards():
    problems, n = [], 0
    for path in sorted(glob.glob(os.path.join(INFRA, "grafana", "dashboards", "*.json"))):
        n += 1
        try:
            with open(path) as f:
                board = json.load(f)
        except ValueError as e:
            problems.append(f"{rel(path)}: not JSON: {e}")
            continue
        ids = []

        def collect(panels):
            for p in panels:
                ids.append(p.get("id"))
                collect(p.get("panels", []))
                ds = p.get("datasource")
                if isinstance(ds, dict) and ds.get("uid") not in (None, "prometheus"):
                    problems.append(f"{rel(path)}: panel {p.get('title')!r} uses datasource uid {ds.get('uid')!r}")

        collect(board.get("panels", []))
        if None in ids:
            problems.append(f"{rel(path)}: a panel has no id")
        dupes = sorted({i for i in ids if i is not None and ids.count(i) > 1})
        if dupes:
            problems.append(f"{rel(path)}: duplicate panel ids {dupes}")
        for key in ("uid", "title"):
            if not board.get(key):
                problems.append(f"{rel(path)}: no {key}")
    if n == 0:
        problems.append("no dashboards found")
    return problems, f"{n} dashboards: JSON parses, panel ids unique"


def yaml_files():
    problems, n = [], 0
    templates = os.path.join(CHART, "templates") + os.sep
    for path in sorted(glob.glob(os.path.join(INFRA, "**", "*.y*ml"), recursive=True)):
        if path.startswith(templates) or not path.endswith((".yml", ".yaml")):
            continue
        n += 1
        try:
            with open(path) as f:
                list(yaml.safe_load_all(f))
        except yaml.YAMLError as e:
            problems.append(f"{rel(path)}: {e}")
    return problems, f"{n} YAML files (Helm templates excepted) parse"


def compose():
    path = os.path.join(INFRA, "compose", "compose.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    problems = []
    services = doc.get("services") or {}
    declared = set((doc.get("volumes") or {}).keys())
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        if not svc.get("image") and not svc.get("build"):
            problems.append(f"{name}: neither image nor build")
        deps = svc.get("depends_on") or {}
        for dep in deps:
            if dep not in services:
                problems.append(f"{name}: depends_on unknown service {dep!r}")
            elif dep == name:
                problems.append(f"{name}: depends on itself")
        if isinstance(deps, dict):
            for dep, spec in deps.items():
                cond = (spec or {}).get("condition", "service_started")
                if cond not in conditions:
                    problems.append(f"{name}: unknown condition {cond!r} for {dep}")
                if cond == "service_healthy" and dep in services and "healthcheck" not in services[dep]:
                    problems.append(f"{name}: waits for {dep} healthy, but {dep} has no healthcheck")
        for port in svc.get("ports") or []:
            if not isinstance(port, str):
                problems.append(f"{name}: port {port!r} is not a string")
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if source and not source.startswith((".", "/", "~", "$")) and source not in declared:
                problems.append(f"{name}: volume {source!r} is not declared")
            if source.startswith("."):
                local = os.path.normpath(os.path.join(os.path.dirname(path), source))
                if not os.path.exists(local):
                    problems.append(f"{name}: bind source {source} does not exist")
        build = svc.get("build")
        if isinstance(build, dict):
            ctx = os.path.normpath(os.path.join(os.path.dirname(path), build.get("context", ".")))
            dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            if not os.path.exists(dockerfile):
                problems.append(f"{name}: build.dockerfile {rel(dockerfile)} does not exist")
    return problems, f"compose: {len(services)} services, depends_on/volumes/ports/build paths consistent"


def _values_paths(node, prefix=()):
    out = {prefix}
    if isinstance(node, dict):
        for k, v in node.items():
            out |= _values_paths(v, prefix + (str(k),))
    return out


def helm():
    problems = []
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    for key in ("apiVersion", "name", "version"):
        if key not in chart:
            problems.append(f"Chart.yaml: no {key}")
    paths = _values_paths(values)
    files = sorted(glob.glob(os.path.join(CHART, "templates", "*")))
    refs = 0
    for path in files:
        with open(path) as f:
            text = f.read()
        if text.count("{{") != text.count("}}"):
            problems.append(f"{rel(path)}: {text.count('{{')} '{{{{' vs {text.count('}}')} '}}}}'")
        for m in re.finditer(r"\.Values((?:\.[A-Za-z0-9_]+)+)", text):
            refs += 1
            parts = tuple(m.group(1).strip(".").split("."))
            if parts not in paths:
                problems.append(f"{rel(path)}: .Values.{'.'.join(parts)} is not in values.yaml")
        blocks = len(re.findall(r"\{\{-?\s*(?:if|range|with|define)\b", text))
        ends = len(re.findall(r"\{\{-?\s*end\s*-?\}\}", text))
        if blocks != ends:
            problems.append(f"{rel(path)}: {blocks} if/range/with/define vs {ends} end")
    return problems, f"helm (structural): {len(files)} templates, {{{{ }}}} and blocks balanced, {refs} .Values references exist"


def helm_rendered(path):
    problems = []
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    seen = set()
    kinds = {}
    for d in docs:
        for key in ("apiVersion", "kind"):
            if key not in d:
                problems.append(f"a document has no {key}")
        name = (d.get("metadata") or {}).get("name")
        if not name:
            problems.append(f"{d.get('kind')}: no metadata.name")
        if (d.get("kind"), name) in seen:
            problems.append(f"{d.get('kind')}/{name} rendered twice")
        seen.add((d.get("kind"), name))
        kinds[d.get("kind")] = kinds.get(d.get("kind"), 0) + 1
        spec = (d.get("spec") or {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            if not all(isinstance(a, str) for a in c.get("args", [])):
                problems.append(f"{d['kind']}/{name}: a non-string arg")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return problems, f"rendered {len(docs)} objects ({summary})"


def _balanced(expr):
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def prometheus():
    problems = []
    with open(os.path.join(INFRA, "prometheus", "prometheus.yml")) as f:
        config = yaml.safe_load(f)
    jobs = config.get("scrape_configs") or []
    for job in jobs:
        if not job.get("job_name"):
            problems.append("a scrape config has no job_name")
        targets = [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
        if not targets:
            problems.append(f"scrape job {job.get('job_name')}: no targets")
    with open(os.path.join(INFRA, "prometheus", "alerts.yml")) as f:
        rules = yaml.safe_load(f)
    n, names = 0, set()
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            n += 1
            name = rule.get("alert")
            if not name or not rule.get("expr"):
                problems.append(f"group {group.get('name')}: a rule without alert or expr")
                continue
            if name in names:
                problems.append(f"alert {name} defined twice")
            names.add(name)
            if not _balanced(str(rule["expr"])):
                problems.append(f"alert {name}: unbalanced brackets in expr")
            if not (rule.get("labels") or {}).get("severity"):
                problems.append(f"alert {name}: no severity label")
            if "for" in rule and not re.fullmatch(r"\d+[smhd]", str(rule["for"])):
                problems.append(f"alert {name}: bad duration {rule['for']!r}")
    with open(os.path.join(INFRA, "prometheus", "alerts.test.yml")) as f:
        tests = yaml.safe_load(f)
    # An alert that must fire needs a test that shows it firing (non-empty exp_alerts).
    fired = {case.get("alertname") for test in tests.get("tests", [])
             for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    for name in sorted(names - fired):
        problems.append(f"alert {name}: no test in prometheus/alerts.test.yml shows it firing")
    return problems, (f"prometheus: {len(jobs)} scrape jobs, {n} alert rules well-formed, "
                      f"each fired by a test in alerts.test.yml")


def dockerfiles():
    problems = []
    with open(os.path.join(ROOT, "rust-toolchain.toml")) as f:
        toolchain = f.read()
    m = re.search(r"\((\d{4}-\d{2}-\d{2})\)", toolchain)
    known = f"nightly-{m.group(1)}" if m else None
    files = [os.path.join(INFRA, "docker", n) for n in ("Dockerfile", "Dockerfile.cuda")]
    for path in files:
        with open(path) as f:
            text = f.read()
        pin = re.search(r"ARG RUST_NIGHTLY=(\S+)", text)
        if not pin:
            problems.append(f"{rel(path)}: no RUST_NIGHTLY pin")
        elif known and pin.group(1) != known:
            problems.append(f"{rel(path)}: pins {pin.group(1)}, rust-toolchain.toml names {known}")
        if 'ENTRYPOINT ["starfarm"]' not in text:
            problems.append(f"{rel(path)}: ENTRYPOINT is not starfarm")
        if "scripts/patch-deps.sh" not in text:
            problems.append(f"{rel(path)}: does not run scripts/patch-deps.sh")
        if not re.search(r"^USER (?!root)\S+", text, re.M):
            problems.append(f"{rel(path)}: runs as root")
    ignore = os.path.join(ROOT, ".dockerignore")
    if not os.path.exists(ignore):
        problems.append(".dockerignore missing")
    else:
        with open(ignore) as f:
            entries = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        for needed in ("target/", ".git", "data/", ".deps/"):
            if needed not in entries:
                problems.append(f".dockerignore does not exclude {needed}")
        for kept in ("deps/", "deps"):
            if kept in entries:
                problems.append(".dockerignore excludes deps/, which the build needs (the patch crate)")
    return problems, f"dockerfiles: nightly pin = {known}, non-root, ENTRYPOINT starfarm, .dockerignore"


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    what = sys.argv[1]
    if what == "helm-rendered":
        problems, summary = helm_rendered(sys.argv[2])
    else:
        fn = {"dashboards": dashboards, "yaml": yaml_files, "compose": compose, "helm": helm,
              "prometheus": prometheus, "dockerfiles": dockerfiles}.get(what)
        if fn is None:
            print(__doc__)
            return 2
        problems, summary = fn()
    for p in problems:
        print(f"  FAIL {p}")
    print(("  ok   " if not problems else "  FAIL ") + summary)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

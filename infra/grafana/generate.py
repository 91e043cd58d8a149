#!/usr/bin/env python3
"""Writes the starfarm Grafana dashboards (infra/grafana/dashboards/*.json).

The JSON files are committed; edit this script and run it again rather than editing them
(`infra/check.sh` fails when they differ from what this script writes). Only metric names
the binaries export may appear: infra/check.sh checks them against
infra/dashboard_metrics.py's table.
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "prometheus"}
HERE = os.path.dirname(os.path.abspath(__file__))


class Board:
    def __init__(self, uid, title, description, tags):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels = []
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_h = 0

    def _place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"id": self._id(), "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.y += 1

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def _targets(self, targets):
        out = []
        for i, (expr, legend) in enumerate(targets):
            out.append({"datasource": DS, "refId": chr(ord("A") + i), "expr": expr,
                        "legendFormat": legend, "range": True})
        return out

    def timeseries(self, title, targets, unit="short", w=12, h=8, description="", stack=False):
        self.panels.append({
            "id": self._id(), "type": "timeseries", "title": title, "description": description,
            "datasource": DS, "gridPos": self._place(w, h),
            "targets": self._targets(targets),
            "fieldConfig": {"defaults": {"unit": unit, "custom": {
                "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                "stacking": {"mode": "normal" if stack else "none", "group": "A"}}},
                "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
        })

    def stat(self, title, expr, unit="short", w=6, h=4, description="", thresholds=None,
             mappings=None, legend=""):
        steps = thresholds or [{"color": "green", "value": None}]
        self.panels.append({
            "id": self._id(), "type": "stat", "title": title, "description": description,
            "datasource": DS, "gridPos": self._place(w, h),
            "targets": self._targets([(expr, legend)]),
            "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                         "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto",
                        "justifyMode": "auto", "orientation": "auto"},
        })

    def json(self):
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": self.tags, "editable": False, "schemaVersion": 39, "version": 1,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "timezone": "utc",
            "graphTooltip": 1, "annotations": {"list": []}, "templating": {"list": []},
            "links": [{"type": "dashboards", "tags": ["starfarm"], "asDropdown": True,
                       "title": "starfarm"}],
            "panels": self.panels,
        }


def quantiles(metric, by, window="5m"):
    return [(f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket[{window}])))",
             f"p{int(q * 100)} {{{{{by}}}}}") for q in (0.5, 0.9, 0.99)]


# The proving cost of the blocks L1 settled over the transactions they held (settlement line).
SETTLED_TX_COST = ("sum(increase(starfarm_l1_settled_proof_cost_usd_total[1h]))"
                   " / sum(increase(starfarm_l1_settled_transactions_total[1h]))")
SETTLED_TX_COST_HELP = ("Estimated cost of the proofs of the blocks settled on L1 (their block-chunk "
                        "proofs at their workers' price; the aggregation runs in the scheduler, "
                        "unpriced) over the L2 transactions settled. A block's cost counts when "
                        "its last range settles")


def prover():
    b = Board("starfarm-prover", "starfarm / prover farm",
              "Proof throughput, queue, jobs and proof phase latency (scheduler /metrics).",
              ["starfarm"])
    b.row("Overview")
    b.stat("Queue depth", "max(starfarm_queue_depth)", description="Jobs waiting for a worker",
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 50},
                       {"color": "red", "value": 100}])
    b.stat("Jobs in progress",
           'sum(max by (state) (starfarm_jobs{state=~"leased|proving|verifying"}))',
           description="leased + proving + verifying")
    b.stat("Proofs (1h)", "sum(increase(starfarm_proofs_total[1h]))")
    b.stat("Lease expiries (1h)", "sum(increase(starfarm_lease_expiries_total[1h]))",
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1},
                       {"color": "red", "value": 5}])
    b.row("Throughput")
    b.timeseries("Proofs/s by backend", [
        ("sum by (backend) (rate(starfarm_proofs_total[5m]))", "{{backend}}")], unit="ops")
    b.timeseries("Proofs/s by job kind", [
        ("sum by (kind) (rate(starfarm_proofs_total[5m]))", "{{kind}}")], unit="ops")
    b.timeseries("Cairo steps/s by backend", [
        ("sum by (backend) (rate(starfarm_proven_steps_total[5m]))", "{{backend}}")],
        unit="short", description="Cairo steps of accepted proofs per second")
    b.timeseries("GPU kernel calls/s and CPU fallbacks/s by backend", [
        ("sum by (backend) (rate(starfarm_gpu_kernel_calls_total[5m]))", "calls {{backend}}"),
        ("sum by (backend) (rate(starfarm_gpu_fallbacks_total[5m]))", "fallbacks {{backend}}")],
        unit="ops", description="Kernel calls that failed on the GPU (out of memory, device lost) are redone on the CPU: the proof goes on")
    b.timeseries("Artifacts handed in by result", [
        ("sum by (result) (rate(starfarm_artifacts_total[5m]))", "{{result}}")], unit="ops")
    b.row("Queue and jobs")
    b.timeseries("Queue depth", [("max(starfarm_queue_depth)", "queued")])
    b.timeseries("Jobs by state", [("max by (state) (starfarm_jobs)", "{{state}}")],
                 description="Every scheduler sharing one job store reports the same counts: max().")
    b.timeseries("Submissions/s by result", [
        ("sum by (result) (rate(starfarm_api_submissions_total[5m]))", "{{result}}")], unit="ops")
    b.timeseries("Cancellations/s by result", [
        ("sum by (result) (rate(starfarm_api_cancellations_total[5m]))", "{{result}}")], unit="ops")
    b.timeseries("Retries by cause", [
        ("sum by (cause) (increase(starfarm_job_retries_total[5m]))", "{{cause}}")])
    b.timeseries("Lease expiries", [
        ("sum(increase(starfarm_lease_expiries_total[5m]))", "expired leases")])
    b.row("Cost (workers' --price-per-hour)")
    b.stat("Cost per proof (1h, USD)",
           "sum(increase(starfarm_proof_cost_usd_total[1h]))"
           " / sum(increase(starfarm_proofs_total[1h]))", unit="currencyUSD", w=8,
           description="Estimated cost (proving + verifying seconds x the worker's price per "
                       "machine-hour) over accepted proofs; proofs of workers without a price count as 0")
    b.stat("Cost per settled transaction (1h, USD)", SETTLED_TX_COST, unit="currencyUSD", w=8,
           description=SETTLED_TX_COST_HELP)
    b.stat("Cost (1h, USD)", "sum(increase(starfarm_proof_cost_usd_total[1h]))", unit="currencyUSD",
           w=8)
    b.timeseries("Cost per proof by backend (USD, 1h window)", [
        ("sum by (backend) (increase(starfarm_proof_cost_usd_total[1h]))"
         " / sum by (backend) (increase(starfarm_proofs_total[1h]))", "{{backend}}")],
        unit="currencyUSD")
    b.timeseries("Cost per settled transaction (USD, 1h window)", [
        (SETTLED_TX_COST, "per settled transaction")], unit="currencyUSD",
        description=SETTLED_TX_COST_HELP)
    b.timeseries("Busy seconds/s by backend and phase", [
        ("sum by (backend, phase) (rate(starfarm_proof_seconds_total[5m]))", "{{backend}} {{phase}}")],
        unit="short", w=24, description="Scheduler-measured proving and verifying time of accepted "
                                        "proofs per second: about the number of busy workers", stack=True)
    b.row("Proof phases (as workers measured them)")
    b.timeseries("Phase latency p50/p90/p99", quantiles("starfarm_proof_phase_seconds", "phase"),
                 unit="s", w=16, h=10)
    b.timeseries("Mean phase time", [(
        "sum by (phase) (rate(starfarm_proof_phase_seconds_sum[5m]))"
        " / sum by (phase) (rate(starfarm_proof_phase_seconds_count[5m]))", "{{phase}}")],
        unit="s", w=8, h=10, stack=True)
    return b


def chain():
    b = Board("starfarm-chain", "starfarm / chain",
              "The sequencer: blocks, transactions, mempool (sequencer /metrics).", ["starfarm"])
    b.row("Overview")
    b.stat("Latest block", "max(starfarm_sequencer_latest_block)")
    b.stat("Transactions/s", 'sum(rate(starfarm_sequencer_transactions_total{status="received"}[5m]))',
           unit="ops")
    b.stat("Mempool depth", "max(starfarm_sequencer_mempool_depth)")
    b.stat("Blocks (1h)", "sum(increase(starfarm_sequencer_block_transactions_count[1h]))")
    b.row("Blocks")
    b.timeseries("Latest block", [("max(starfarm_sequencer_latest_block)", "latest block")])
    b.timeseries("Blocks/min", [
        ("sum(rate(starfarm_sequencer_block_build_seconds_count[5m])) * 60", "blocks/min")])
    b.timeseries("Block build time p50/p90/p99", [
        (f"histogram_quantile({q}, sum by (le) (rate(starfarm_sequencer_block_build_seconds_bucket[5m])))",
         f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)], unit="s")
    b.timeseries("Transactions per block", [
        ("sum(rate(starfarm_sequencer_block_transactions_sum[5m]))"
         " / sum(rate(starfarm_sequencer_block_transactions_count[5m]))", "mean"),
        ("histogram_quantile(0.99, sum by (le) (rate(starfarm_sequencer_block_transactions_bucket[5m])))",
         "p99")])
    b.row("Transactions")
    b.timeseries("Transactions/s by status", [
        ("sum by (status) (rate(starfarm_sequencer_transactions_total[5m]))", "{{status}}")],
        unit="ops",
        description="received / rejected at admission; succeeded / reverted when executed")
    b.timeseries("Mempool depth", [("max(starfarm_sequencer_mempool_depth)", "waiting")])
    return b


def l1():
    b = Board("starfarm-l1", "starfarm / L1 settlement",
              "Settlement on Ethereum (the scheduler's starfarm_l1_* with --settle).", ["starfarm"])
    b.row("Overview")
    b.stat("Last settled block", "max(starfarm_l1_last_settled_block)",
           description="-1: nothing settled yet")
    b.stat("L1 lag (blocks)",
           "max(starfarm_sequencer_latest_block) - max(starfarm_l1_last_settled_block)",
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 20},
                       {"color": "red", "value": 50}])
    b.stat("Proven, not settled", "max(starfarm_l1_blocks_pending_settlement)")
    b.stat("Settlement", "max(starfarm_l1_settlement_stopped)",
           thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
           mappings=[{"type": "value", "options": {
               "0": {"text": "running", "color": "green"},
               "1": {"text": "STOPPED", "color": "red"}}}])
    b.row("Progress")
    b.timeseries("Sequencer vs settled", [
        ("max(starfarm_sequencer_latest_block)", "sequencer latest"),
        ("max(starfarm_l1_last_settled_block)", "settled on L1")])
    b.timeseries("L1 lag", [
        ("max(starfarm_sequencer_latest_block) - max(starfarm_l1_last_settled_block)", "blocks behind"),
        ("max(starfarm_l1_blocks_pending_settlement)", "proven, pending settlement")])
    b.timeseries("L2 transactions settled/s", [
        ("sum(rate(starfarm_l1_settled_transactions_total[5m]))", "settled")], unit="ops")
    b.timeseries("Cost per settled transaction (USD, 1h window)", [
        (SETTLED_TX_COST, "per settled transaction")], unit="currencyUSD",
        description=SETTLED_TX_COST_HELP)
    b.row("Transactions")
    b.timeseries("Submissions by call and result", [
        ("sum by (call, result) (increase(starfarm_l1_submissions_total[5m]))", "{{call}} {{result}}")])
    b.timeseries("Gas used by call", [
        ("sum by (call) (increase(starfarm_l1_gas_used_total[5m]))", "{{call}}")])
    b.timeseries("Settlement stopped", [("max(starfarm_l1_settlement_stopped)", "stopped")], w=24, h=5)
    return b


def main():
    out = os.path.join(HERE, "dashboards")
    os.makedirs(out, exist_ok=True)
    check = "--check" in sys.argv[1:]
    stale = []
    for board in (prover(), chain(), l1()):
        path = os.path.join(out, board.uid + ".json")
        text = json.dumps(board.json(), indent=2) + "\n"
        if check:
            try:
                with open(path) as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("out of date (run infra/grafana/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark: CPU per card transaction of `cardsim run` (simulation only), here and, with
`--before DIR`, in another checkout of cardsim (an earlier commit), alternated in one run.

Prints one JSON object. Each figure is the user+system CPU time of a fresh process running
`cardsim run SCENARIO --json --quiet` (no log written) and of every process it starts (with
``--log``: the forkserver and the log's writer, sampled every 20 ms, since ``getrusage`` does not
see them), divided by the transactions it made.
The ratio of the two checkouts' CPU per transaction (medians; also of the fastest runs) is what
to quote: both are measured on the same machine, minutes apart, alternated, so the host's noise
falls on both. A same-run reference
(bare SimPy timeouts per CPU second) turns the figures into "SimPy events per transaction".

    python bench/model_cost.py [--scenario scenarios/weekday.toml] [--before ../old] [--runs 2]
                               [--log]

Bytecode is cached as for an installed package (``PYTHONDONTWRITEBYTECODE`` is dropped for the
runs; the warm-up writes it, into each checkout's ``__pycache__``), so a run does not pay for
compiling its modules again. The tree's CPU includes the small wrapper that runs the command and
reads its peak memory (some 30 ms a run, in both checkouts alike).

With ``--log`` each run also writes its unsigned log (``--out ... --no-sign``), so the records are
made and stored; without it the run only summarises (a run with no log makes no records).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, run_tree, simpy_seconds_per_timeout


# Run in a process of its own, so that its children's usage is that one run's (peak RSS is a
# maximum over a process's children: measured from the benchmark itself it would never fall).
_MEASURE = r"""
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if p.returncode:
    sys.exit(p.stderr[-500:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu": u.ru_utime + u.ru_stime, "maxrss_kb": u.ru_maxrss,
                  "summary": json.loads(p.stdout)}))
"""


def measure(checkout: Path, scenario: str, scale: float, log: bool = False) -> dict:
    """One run of ``checkout``'s cardsim in a fresh process: CPU seconds, peak RSS, summary.
    ``log``: the run also writes its (unsigned) log, so its records are made and stored."""
    # bytecode cached as an installed package's is (the warm-up run writes it): a run's cost,
    # not that of compiling every module's source again
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(checkout)
    cmd = [sys.executable, "-m", "cardsim", "run", scenario, "--json", "--quiet", "--scale",
           str(scale)]
    if log:
        tmp = tempfile.mkdtemp()
        cmd += ["--out", os.path.join(tmp, "run.db"), "--no-sign", "--keys",
                os.path.join(tmp, "keys")]
    try:
        code, stdout, stderr, tree, _wall = run_tree([sys.executable, "-c", _MEASURE, *cmd],
                                                     checkout, env)
    finally:
        if log:
            shutil.rmtree(tmp, ignore_errors=True)
    if code:
        raise SystemExit(f"cardsim run failed in {checkout}: {stderr.strip()[-500:]}")
    m = json.loads(stdout)
    s = m["summary"]
    other = s.get("other_payers") or {}
    # the run's own CPU (getrusage: exact, its waited-for children included) and the whole
    # tree's, sampled (the forkserver and the log's writer are not the run's waited-for children)
    return {"cpu": max(m["cpu"], tree), "own_cpu": m["cpu"],
            "rss_mb": m["maxrss_kb"] / 1024, "transactions": s["transactions"],
            "other_payers": sum(other.values()) if isinstance(other, dict) else 0}


def summarise(runs: list[dict], event_cpu: float) -> dict:
    cpu = statistics.median(r["cpu"] for r in runs)
    tx = runs[0]["transactions"]
    return {"transactions": tx, "other_payers": runs[0]["other_payers"],
            "cpu_seconds": [round(r["cpu"], 2) for r in runs],
            "cpu_seconds_run_process": [round(r["own_cpu"], 2) for r in runs],
            "cpu_us_per_transaction": round(cpu / tx * 1e6, 1),
            # the fastest run: on a noisy host, the closest to the code's own cost
            "cpu_us_per_transaction_fastest": round(min(r["cpu"] for r in runs) / tx * 1e6, 1),
            "simpy_events_per_transaction": round(cpu / tx / event_cpu, 1),
            "peak_rss_mb": round(max(r["rss_mb"] for r in runs), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/weekday.toml")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--before", type=Path, help="another cardsim checkout to compare with")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--log", action="store_true",
                    help="also write each run's unsigned log (records made and stored)")
    a = ap.parse_args()
    checkouts = {"this": ROOT} | ({"before": a.before.resolve()} if a.before else {})
    runs: dict[str, list[dict]] = {k: [] for k in checkouts}
    for path in checkouts.values():     # warm-up: kernels compiled, bytecode cached, files read
        measure(path, a.scenario, 0.01)
    refs = [simpy_seconds_per_timeout(clock=time.process_time)]
    for _ in range(a.runs):
        for name, path in checkouts.items():       # alternated: the host's noise hits both
            runs[name].append(measure(path, a.scenario, a.scale, a.log))
        refs.append(simpy_seconds_per_timeout(clock=time.process_time))
    event_cpu = statistics.median(refs)
    out = {"benchmark": "model_cost", "scenario": a.scenario, "scale": a.scale, "log": a.log,
           "simpy_timeouts_per_cpu_second": round(1.0 / event_cpu),
           **{name: summarise(r, event_cpu) for name, r in runs.items()}}
    if a.before:
        out["ratio_cpu_per_transaction_this_over_before"] = round(
            out["this"]["cpu_us_per_transaction"] / out["before"]["cpu_us_per_transaction"], 2)
        out["ratio_fastest_this_over_before"] = round(
            out["this"]["cpu_us_per_transaction_fastest"]
            / out["before"]["cpu_us_per_transaction_fastest"], 2)
    out["measured_at"] = time.strftime("%Y-%m-%d")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

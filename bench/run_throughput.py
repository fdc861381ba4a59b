#!/usr/bin/env python3
"""Benchmark: `cardsim run` throughput on the default scenario, and peak memory at 1x and 10x scale.

Prints one JSON object. Each figure is measured on the whole command in a fresh process:
throughput = transactions / wall time of the process (log written, signing not involved);
peak memory = the largest resident set of any process of the run (the simulation or its writer).

    python bench/run_throughput.py [--scenario scenarios/weekday.toml] [--big-scale 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, simpy_seconds_per_timeout

_MEASURE = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
if p.returncode:
    sys.exit(p.stderr)
print(json.dumps({"wall": wall, "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "summary": json.loads(p.stdout)}))
"""


def measure(args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "cardsim", *args]
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{out.stderr}")
    return json.loads(out.stdout)


def simpy_event_rate() -> float:
    """Reference measured in the same run: bare SimPy timeouts per second on one core."""
    return 1.0 / simpy_seconds_per_timeout()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/weekday.toml")
    ap.add_argument("--big-scale", type=float, default=3.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = ["run", a.scenario, "--quiet", "--json", "--force"]
        ref_before = simpy_event_rate()
        one = measure(base + ["--out", os.path.join(tmp, "one.db")])
        ref = (ref_before + simpy_event_rate()) / 2
        big = measure(base + ["--out", os.path.join(tmp, "big.db"), "--scale", str(a.big_scale)])
    n1, nb = one["summary"]["transactions"], big["summary"]["transactions"]
    print(json.dumps({
        "benchmark": "run_throughput",
        "scenario": a.scenario,
        "cpus": os.cpu_count(),
        "transactions": n1,
        "wall_seconds": round(one["wall"], 3),
        "transactions_per_second": round(n1 / one["wall"], 1),
        "simulation_transactions_per_second": one["summary"]["transactions_per_second"],
        "simpy_timeouts_per_second_one_core": round(ref, 1),
        "ratio_transactions_over_simpy_timeouts": round(n1 / one["wall"] / ref, 4),
        "peak_rss_mb_1x": round(one["maxrss_kb"] / 1024, 1),
        "big_scale": a.big_scale,
        "transactions_big": nb,
        "cards_transacting_1x": sum(one["summary"]["cards_transacting"].values()),
        "cards_transacting_big": sum(big["summary"]["cards_transacting"].values()),
        "peak_rss_mb_big": round(big["maxrss_kb"] / 1024, 1),
        "memory_ratio_big_over_1x": round(big["maxrss_kb"] / one["maxrss_kb"], 2),
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: a sweep of 2 values x 8 replications on one process and on all cores.

Prints one JSON object: both wall times (whole `cardsim sweep` processes) and their ratio, the
speed-up. Sweeps write no logs, so nothing is signed.

    python bench/sweep_speedup.py [--scale 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(workers: int, scale: float) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "cardsim", "sweep", "scenarios/weekday.toml", "-n", "8",
           "--set", "provinces.sichuan.gov_window.terminals=3,6", "--scale", str(scale),
           "--workers", str(workers), "--quiet", "--json"]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(p.stderr)
    return wall, json.loads(p.stdout)


_SPIN = "s=0\nfor i in range(30_000_000): s += i * i"


def machine_ceiling(cores: int) -> float:
    """The machine's own parallel speed-up for pure Python: one CPU-bound process alone against
    ``cores`` copies at once. Shared cores or a busy host keep this below ``cores``."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", _SPIN], check=True)
    alone = time.perf_counter() - t
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(cores)]
    for p in procs:
        p.wait()
    together = time.perf_counter() - t
    return cores * alone / together


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.2)
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    ceiling_before = machine_ceiling(cores)
    one, r1 = timed(1, a.scale)
    many, rn = timed(cores, a.scale)
    ceiling = (ceiling_before + machine_ceiling(cores)) / 2
    assert r1["combinations"] == rn["combinations"], "results must not depend on the workers"
    print(json.dumps({
        "benchmark": "sweep_speedup", "cpus": cores, "runs": r1["runs"], "scale": a.scale,
        "wall_seconds_one_process": round(one, 3), "wall_seconds_all_cores": round(many, 3),
        "speedup": round(one / many, 3), "identical_results": True,
        "machine_parallel_speedup_pure_python": round(ceiling, 3),
        "speedup_over_machine_ceiling": round(one / many / ceiling, 3),
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


if __name__ == "__main__":
    main()

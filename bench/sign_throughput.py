#!/usr/bin/env python3
"""Benchmark: signed `cardsim run` throughput against one core's raw Ed25519 signing rate.

Prints one JSON object. In one run: the raw rate of pyca/cryptography Ed25519 signing on one core
(measured before and after, averaged), and the whole-process throughput of a signed run of the
scenario (all cores, log written). The figure to quote is their ratio.

    python bench/sign_throughput.py [--scenario scenarios/weekday.toml] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from _common import ROOT, raw_sign_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/weekday.toml")
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys = os.path.join(tmp, "keys")
        subprocess.run([sys.executable, "-m", "cardsim.cli", "keys", "init", "--dir", keys],
                       check=True, capture_output=True, cwd=ROOT)
        before = raw_sign_rate()
        cmd = [sys.executable, "-m", "cardsim.cli", "run", a.scenario, "--out",
               os.path.join(tmp, "run.db"), "--keys", keys, "--quiet", "--json"]
        if a.workers:
            cmd += ["--workers", str(a.workers)]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        if p.returncode:
            raise SystemExit(p.stderr)
        after = raw_sign_rate()
    n = json.loads(p.stdout)["transactions"]
    raw = (before + after) / 2
    print(json.dumps({
        "benchmark": "sign_throughput",
        "scenario": a.scenario,
        "cpus": os.cpu_count(),
        "workers": a.workers or os.cpu_count(),
        "transactions": n,
        "wall_seconds": round(wall, 3),
        "signed_transactions_per_second": round(n / wall, 1),
        "raw_ed25519_signs_per_second_one_core": round(raw, 1),
        "raw_rate_before_after": [round(before, 1), round(after, 1)],
        "ratio_signed_throughput_over_raw_sign_rate": round(n / wall / raw, 3),
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: signed `cardsim run` throughput against one core's raw Ed25519 signing rate.

Prints one JSON object. In one run: the raw rate of pyca/cryptography Ed25519 signing on one core
(measured before and after, averaged), and the whole-process throughput of two signed runs of the
scenario (all cores, log written): the first with fresh keys, where every card is issued during the
run, and a second one whose cards the card register (cardsim/register.py) already holds. The
figures to quote are their ratios.

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
        runs = {}
        # first run: fresh keys, every card issued in the run; second: the card register knows them
        for name in ("first_run", "register_warm"):
            cmd = [sys.executable, "-m", "cardsim.cli", "run", a.scenario, "--out",
                   os.path.join(tmp, f"{name}.db"), "--keys", keys, "--quiet", "--json"]
            if a.workers:
                cmd += ["--workers", str(a.workers)]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - t0
            if p.returncode:
                raise SystemExit(p.stderr)
            runs[name] = (json.loads(p.stdout)["transactions"], wall)
        after = raw_sign_rate()
    raw = (before + after) / 2
    n = runs["first_run"][0]
    out = {
        "benchmark": "sign_throughput",
        "scenario": a.scenario,
        "cpus": os.cpu_count(),
        "workers": a.workers or os.cpu_count(),
        "transactions": n,
        "raw_ed25519_signs_per_second_one_core": round(raw, 1),
        "raw_rate_before_after": [round(before, 1), round(after, 1)],
    }
    for name, (count, wall) in runs.items():
        out[name] = {"wall_seconds": round(wall, 3),
                     "signed_transactions_per_second": round(count / wall, 1),
                     "ratio_signed_throughput_over_raw_sign_rate": round(count / wall / raw, 3)}
    out["measured_at"] = time.strftime("%Y-%m-%d")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

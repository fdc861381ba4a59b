#!/usr/bin/env python3
"""Benchmark: signed `cardsim run` throughput against one core's raw Ed25519 signing rate.

Prints one JSON object. Each repeat measures the raw rate of pyca/cryptography Ed25519 signing on
one core just before and just after a whole signed `cardsim run` of the scenario (all cores, log
written), and takes the ratio of the run's throughput to the mean of the two; the figure to quote
is the median ratio over the repeats (the host's speed drifts between minutes). Two kinds of run:

- ``first_run``: every card is issued during the run (the card register is emptied first);
- ``register_warm``: the card register (cardsim/signing/register.py) already holds the run's cards, as it
  does from a scenario's second run on.

    python bench/sign_throughput.py [--scenario scenarios/weekday.toml] [--workers N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from _common import ROOT, raw_sign_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/weekday.toml")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    results: dict[str, list] = {"first_run": [], "register_warm": []}
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        keys = os.path.join(tmp, "keys")
        subprocess.run([sys.executable, "-m", "cardsim", "keys", "init", "--dir", keys],
                       check=True, capture_output=True, cwd=ROOT)
        register = os.path.join(keys, "cards.db")
        for _ in range(a.repeats):
            for kind in ("first_run", "register_warm"):
                if kind == "first_run":
                    for suffix in ("", "-wal", "-shm"):
                        if os.path.exists(register + suffix):
                            os.remove(register + suffix)
                cmd = [sys.executable, "-m", "cardsim", "run", a.scenario, "--out",
                       os.path.join(tmp, "run.db"), "--force", "--keys", keys, "--quiet", "--json"]
                if a.workers:
                    cmd += ["--workers", str(a.workers)]
                before = raw_sign_rate()
                t0 = time.perf_counter()
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                wall = time.perf_counter() - t0
                after = raw_sign_rate()
                if p.returncode:
                    raise SystemExit(p.stderr)
                n = json.loads(p.stdout)["transactions"]
                raw = (before + after) / 2
                results[kind].append({"wall_seconds": round(wall, 3),
                                      "signed_transactions_per_second": round(n / wall, 1),
                                      "raw_signs_per_second_before_after": [round(before, 1),
                                                                            round(after, 1)],
                                      "ratio": round(n / wall / raw, 3)})
    out = {"benchmark": "sign_throughput", "scenario": a.scenario, "cpus": os.cpu_count(),
           "workers": a.workers or os.cpu_count(), "transactions": n, "repeats": a.repeats}
    for kind, runs in results.items():
        out[kind] = {"median_ratio_signed_throughput_over_raw_sign_rate":
                     statistics.median(r["ratio"] for r in runs), "runs": runs}
    out["measured_at"] = time.strftime("%Y-%m-%d")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

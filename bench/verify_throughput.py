#!/usr/bin/env python3
"""Benchmark: `cardsim verify` throughput on a ~200,000-record log against one core's raw Ed25519
verification rate with pyca/cryptography, measured in the same run (before and after).

    python bench/verify_throughput.py [--records 200000] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from _common import raw_verify_rate, signed_log, timed_against_raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys, log = signed_log(tmp, a.records)
        args = ["verify", log, "--keys", keys, "--quiet", "--json"]
        if a.workers:
            args += ["--workers", str(a.workers)]
        wall, before, after, p = timed_against_raw(args, raw_verify_rate)
    report = json.loads(p.stdout)
    if p.returncode or not report["ok"]:
        raise SystemExit(f"verification failed: {p.stderr or report['failures']}")
    raw, n = (before + after) / 2, report["records"]
    print(json.dumps({
        "benchmark": "verify_throughput", "cpus": os.cpu_count(), "workers": a.workers or os.cpu_count(),
        "records": n, "wall_seconds": round(wall, 3),
        "records_verified_per_second": round(n / wall, 1),
        "raw_ed25519_verifies_per_second_one_core": round(raw, 1),
        "raw_rate_before_after": [round(before, 1), round(after, 1)],
        "ratio_verify_throughput_over_raw_verify_rate": round(n / wall / raw, 3),
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: `cardsim verify` throughput on a ~200,000-record log against one core's raw Ed25519
verification rate with pyca/cryptography, measured in the same run (before and after); and the
share of verify's time the container checks take (opening the log: schema, integrity check, runs
row and bounds, ``cardsim.log.container``), measured in this process on the same log.

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
        container = _container_seconds(log)
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
        "container_check_seconds": round(container, 3),
        "container_check_share_of_verify": round(container / wall, 3),
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


def _container_seconds(log: str, repeats: int = 3) -> float:
    """Median seconds to open the log with its container checks (the page cache warm, as for the
    verify run just before)."""
    from cardsim.log.store import open_log
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        open_log(log).close()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


if __name__ == "__main__":
    main()

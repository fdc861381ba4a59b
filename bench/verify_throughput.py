#!/usr/bin/env python3
"""Benchmark: `cardsim verify` throughput on a ~200,000-record log against one core's raw Ed25519
verification rate with pyca/cryptography, measured in the same run (before and after); and the
share of verify's time the container checks take (opening the log: schema, integrity check, runs
row and bounds, ``cardsim.log.container``), measured in this process on the same log.

    python bench/verify_throughput.py [--records 200000] [--workers N]
"""

from __future__ import annotations

import json
import time

from _common import checked_log_rate


def main() -> None:
    p, report, container, head = checked_log_rate(__doc__, "verify", "records",
                                                  inside=_container_seconds)
    if p.returncode or not report.get("ok"):
        raise SystemExit(f"verification failed: {p.stderr or report.get('failures')}")
    print(json.dumps({
        **head,
        "container_check_seconds": round(container, 3),
        "container_check_share_of_verify": round(container / head["wall_seconds"], 3),
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

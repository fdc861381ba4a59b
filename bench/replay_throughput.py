#!/usr/bin/env python3
"""Benchmark: `cardsim replay` throughput (signature checks on) on a ~200,000-record log against
one core's raw Ed25519 verification rate with pyca/cryptography, measured in the same run.

    python bench/replay_throughput.py [--records 200000] [--workers N]
"""

from __future__ import annotations

import json
import time

from _common import checked_log_rate


def main() -> None:
    p, report, _none, head = checked_log_rate(__doc__, "replay", "replayed")
    if p.returncode or report.get("diverged") or not report.get("signatures_checked"):
        raise SystemExit(f"replay diverged or did not check signatures: {p.stderr}")
    print(json.dumps({**head, "measured_at": time.strftime("%Y-%m-%d")}, indent=2))


if __name__ == "__main__":
    main()

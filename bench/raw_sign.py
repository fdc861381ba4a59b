#!/usr/bin/env python3
"""The reference workload of the signing benchmark as a whole process: sign N messages (default
490,874, the weekday scenario's transactions) with pyca/cryptography Ed25519 on one core, so that
`cardsim run` can be timed against it pair by pair with a whole-command timer (hyperfine, say):
the ratio of their wall times is the ratio of signed throughput to the raw one-core signing rate.

    python bench/raw_sign.py [N]
"""

from __future__ import annotations

import json
import os
import sys
import time

from cryptography.hazmat.primitives.asymmetric import ed25519


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 490_874
    key = ed25519.Ed25519PrivateKey.generate()
    msg = os.urandom(120)
    sign = key.sign
    t0 = time.perf_counter()
    for _ in range(n):
        sign(msg)
    wall = time.perf_counter() - t0
    print(json.dumps({"signatures": n, "seconds": round(wall, 3), "per_second": round(n / wall, 1)}))


if __name__ == "__main__":
    main()

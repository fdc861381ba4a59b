#!/usr/bin/env python3
"""Benchmark: `cardsim replay` throughput (signature checks on) on a ~200,000-record log against one core's raw Ed25519
verification rate with pyca/cryptography, measured in the same run (before and after).

    python bench/replay_throughput.py [--records 200000] [--workers N]
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

ROOT = Path(__file__).resolve().parent.parent


def raw_verify_rate(seconds: float = 2.0) -> float:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    msg = os.urandom(120)
    sig, pub = key.sign(msg), key.public_key()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(500):
            pub.verify(sig, msg)
        n += 500
    return n / (time.perf_counter() - t0)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cardsim.cli", *args], capture_output=True,
                          text=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys, log = os.path.join(tmp, "keys"), os.path.join(tmp, "run.db")
        scale = a.records / 490_874          # the weekday scenario's size at scale 1
        p = cli("run", "scenarios/weekday.toml", "--scale", f"{scale:.4f}", "--out", log,
                "--keys", keys, "--quiet", "--json")
        if p.returncode:
            raise SystemExit(p.stderr)
        before = raw_verify_rate()
        args = ["replay", log, "--keys", keys, "--quiet", "--json"]
        if a.workers:
            args += ["--workers", str(a.workers)]
        t0 = time.perf_counter()
        p = cli(*args)
        wall = time.perf_counter() - t0
        after = raw_verify_rate()
    report = json.loads(p.stdout)
    if p.returncode or report["diverged"] or not report["signatures_checked"]:
        raise SystemExit(f"replay diverged or did not check signatures: {p.stderr}")
    raw = (before + after) / 2
    n = report["replayed"]
    print(json.dumps({
        "benchmark": "replay_throughput",
        "cpus": os.cpu_count(),
        "workers": a.workers or os.cpu_count(),
        "records": n,
        "wall_seconds": round(wall, 3),
        "records_replayed_per_second": round(n / wall, 1),
        "raw_ed25519_verifies_per_second_one_core": round(raw, 1),
        "raw_rate_before_after": [round(before, 1), round(after, 1)],
        "ratio_replay_throughput_over_raw_verify_rate": round(n / wall / raw, 3),
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


if __name__ == "__main__":
    main()

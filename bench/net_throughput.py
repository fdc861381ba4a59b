#!/usr/bin/env python3
"""Benchmark: authorisations per second through one live issuer node (`cardsim serve issuer`,
pinned to one core) with `cardsim replay --target` driving it over loopback from another core,
against one core's raw Ed25519 verification rate measured in the same run; then the latency
percentiles at half that rate on a fresh node.

Two rates: the wall-clock rate replay achieves (bounded by whichever of the node and the
replaying client is slower), and the node's own rate per second of its CPU time (requests over
the node process's user + system time during the replay): what one core running the node does.

    python bench/net_throughput.py [--records 150000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import ROOT, raw_verify_rate, signed_log

CORES = sorted(os.sched_getaffinity(0))


def pin(core: int):
    return lambda: os.sched_setaffinity(0, {core})


def start_issuer(log: str, keys: str) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([sys.executable, "-m", "cardsim", "serve", "issuer", "--province",
                          "sichuan", "--log", log, "--keys", keys, "--listen", "127.0.0.1:0"],
                         stderr=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=pin(CORES[0]))
    line = p.stderr.readline()
    if not line.startswith("listening on "):
        p.kill()
        raise SystemExit(f"issuer did not start: {line}")
    return p, line.split()[-1]


def replay(log: str, keys: str, address: str, concurrency: int, rate: float | None) -> dict:
    args = [sys.executable, "-m", "cardsim", "replay", log, "--keys", keys, "--json", "--quiet",
            "--target", f"issuer-sichuan={address}", "--concurrency", str(concurrency)]
    if rate:
        args += ["--rate", f"{rate:.1f}"]
    p = subprocess.run(args, capture_output=True, text=True, cwd=ROOT,
                       preexec_fn=pin(CORES[-1]))
    if p.returncode:
        raise SystemExit(f"replay against the issuer did not match: {p.stderr}{p.stdout[:2000]}")
    return json.loads(p.stdout)


def raw_verify_rate_cpu(seconds: float = 2.0) -> float:
    """pyca/cryptography Ed25519 verifications per second of this process's CPU time (one core):
    the like-for-like figure for the node's rate per CPU second on a shared machine."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    msg = os.urandom(120)
    sig, pub = key.sign(msg), key.public_key()
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        for _ in range(500):
            pub.verify(sig, msg)
        n += 500
    return n / (time.process_time() - t0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_fresh_node(log, keys, concurrency, rate=None) -> dict:
    node, address = start_issuer(log, keys)
    try:
        c0 = cpu_seconds(node.pid)
        out = replay(log, keys, address, concurrency, rate)
        out["node_cpu_seconds"] = cpu_seconds(node.pid) - c0
        return out
    finally:
        node.terminate()
        node.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=150_000)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys, log = signed_log(tmp, a.records)
        before, cpu_before = raw_verify_rate(), raw_verify_rate_cpu()
        full = through_fresh_node(log, keys, a.concurrency)
        after, cpu_after = raw_verify_rate(), raw_verify_rate_cpu()
        rate = full["requests_per_second"]
        half = through_fresh_node(log, keys, a.concurrency, rate / 2)
    raw, raw_cpu = (before + after) / 2, (cpu_before + cpu_after) / 2
    node_rate = full["sent"] / full["node_cpu_seconds"]
    print(json.dumps({
        "benchmark": "net_throughput", "cpus": os.cpu_count(), "cores_used": CORES[:1] + CORES[-1:],
        "requests": full["sent"], "concurrency": a.concurrency,
        "authorisations_per_second": rate,
        "node_authorisations_per_cpu_second": round(node_rate, 1),
        "raw_ed25519_verifies_per_cpu_second_one_core": round(raw_cpu, 1),
        "ratio_node_per_cpu_second_over_raw_verifies_per_cpu_second": round(node_rate / raw_cpu, 3),
        "raw_ed25519_verifies_per_second_one_core": round(raw, 1),
        "raw_rate_before_after": [round(before, 1), round(after, 1)],
        "ratio_authorisations_over_raw_verify_rate": round(rate / raw, 3),
        "latency_ms_at_full_rate": full["targets"][0]["latency_ms"],
        "half_rate_per_second": round(rate / 2, 1),
        "latency_ms_at_half_rate": half["targets"][0]["latency_ms"],
        "measured_at": time.strftime("%Y-%m-%d"),
    }, indent=2))


if __name__ == "__main__":
    main()

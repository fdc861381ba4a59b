"""Shared by the benchmarks: run the CLI, make a signed log, and measure raw signature rates."""

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


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cardsim", *args], capture_output=True,
                          text=True, cwd=ROOT)


def signed_log(tmp: str, records: int) -> tuple[str, str]:
    """A signed weekday log of about ``records`` records; returns (keys dir, log path)."""
    keys, log = os.path.join(tmp, "keys"), os.path.join(tmp, "run.db")
    scale = records / 404_431          # the weekday scenario's size at scale 1
    p = cli("run", "scenarios/weekday.toml", "--scale", f"{scale:.4f}", "--out", log, "--keys",
            keys, "--quiet", "--json")
    if p.returncode:
        raise SystemExit(p.stderr)
    return keys, log


def raw_verify_rate(seconds: float = 2.0) -> float:
    """pyca/cryptography Ed25519 verifications per second on one core."""
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


def raw_sign_rate(seconds: float = 2.0) -> float:
    """pyca/cryptography Ed25519 signatures per second on one core."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    msg = os.urandom(120)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(1000):
            key.sign(msg)
        n += 1000
    return n / (time.perf_counter() - t0)


def timed_against_raw(args: list[str], raw) -> tuple[float, float, float, subprocess.CompletedProcess]:
    """Run the CLI between two raw-rate measurements: (wall, raw before, raw after, process)."""
    before = raw()
    t0 = time.perf_counter()
    p = cli(*args)
    wall = time.perf_counter() - t0
    return wall, before, raw(), p


def checked_log_rate(doc: str, command: str, count_key: str, inside=None):
    """What `cardsim verify` and `cardsim replay` benchmarks share: parse ``--records`` and
    ``--workers``, make a signed log, run ``cardsim COMMAND LOG --keys ... --quiet --json``
    between two raw Ed25519 verify-rate measurements, and call ``inside(log)`` while the log
    exists. Returns (the command's process, its JSON report, ``inside``'s answer, the report's
    head: benchmark, cpus, workers, records (``report[count_key]``), wall seconds, records per
    second, the raw rates and the throughput over the raw rate)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys, log = signed_log(tmp, a.records)
        args = [command, log, "--keys", keys, "--quiet", "--json"]
        if a.workers:
            args += ["--workers", str(a.workers)]
        wall, before, after, p = timed_against_raw(args, raw_verify_rate)
        extra = inside(log) if inside is not None else None
    report = json.loads(p.stdout) if p.stdout.strip() else {}
    raw, n = (before + after) / 2, report.get(count_key, 0)
    verb = {"verify": "verified", "replay": "replayed"}[command]
    head = {
        "benchmark": f"{command}_throughput", "cpus": os.cpu_count(),
        "workers": a.workers or os.cpu_count(), "records": n, "wall_seconds": round(wall, 3),
        f"records_{verb}_per_second": round(n / wall, 1),
        "raw_ed25519_verifies_per_second_one_core": round(raw, 1),
        "raw_rate_before_after": [round(before, 1), round(after, 1)],
        f"ratio_{command}_throughput_over_raw_verify_rate": round(n / wall / raw, 3),
    }
    return p, report, extra, head


def simpy_seconds_per_timeout(n: int = 400_000, clock=time.perf_counter) -> float:
    """Same-run reference of the simulation benchmarks: ``clock`` seconds (wall by default, or
    ``time.process_time`` for CPU) per bare SimPy timeout on one core."""
    import simpy

    env = simpy.Environment()

    def proc():
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(proc())
    t = clock()
    env.run()
    return (clock() - t) / n


def tree_cpu(proc, seen: dict) -> None:
    """Record in ``seen`` (pid -> seconds) the CPU seconds (user + system) so far of the
    ``psutil.Process`` ``proc`` and its descendants: called every few milliseconds while a command
    runs, it counts the processes a run starts (the forkserver, signing workers, the log's
    writer), which ``getrusage`` misses when they are not the command's own waited-for children."""
    import psutil

    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return
    for p in procs:
        try:
            t = p.cpu_times()
            seen[p.pid] = max(seen.get(p.pid, 0.0), t.user + t.system)
        except psutil.Error:
            pass


def run_tree(cmd: list[str], cwd, env: dict) -> tuple[int, str, str, float, float]:
    """Run ``cmd``, sampling its process tree's CPU every 20 ms (:func:`tree_cpu`): (return code,
    stdout, stderr, CPU seconds of the tree, wall seconds). Output goes to files, not pipes: a
    pipe left unread while polling would fill and stall the command."""
    import psutil

    seen: dict[int, float] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        with subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=cwd, env=env) as p:
            proc = psutil.Process(p.pid)
            while p.poll() is None:
                tree_cpu(proc, seen)
                time.sleep(0.02)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), sum(seen.values()), wall

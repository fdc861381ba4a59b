#!/usr/bin/env python3
"""Benchmark: what the Merkle tree (signed tree heads, log format 4) costs a signed `cardsim run`:
its throughput against the same run by the code before the tree (``--before``, a git revision,
exported with ``git archive``).

Prints one JSON object. The two versions run in turn, ``--repeats`` times each, in fresh
processes with the same scenario, scale and keys. Two figures per version:

- ``cpu``: records per CPU-second of the whole process tree (the simulation, the forkserver, the
  signing workers and the writer; sampled with psutil every 20 ms), the median over the repeats.
  CPU time is what the tree adds, and it barely moves when other work shares the host;
- ``wall``: records per wall-clock second of the fastest run (the least disturbed).

``ratio``: after over before for each (1.0: no cost; the target is >= 0.95, at most 5%), and
``verify_cpu`` the same for ``cardsim verify`` of each version's log by that version.

    python bench/tree_cost.py [--before 9932819] [--scale 0.05] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import statistics

from _common import ROOT, run_tree

#: The last commit before the tree (log format 3: hash chain and checkpoints only).
BEFORE = "9932819"


def export(rev: str, into: str) -> str:
    """The source tree of ``rev`` in ``into`` (its ``cardsim`` package importable from there)."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", into], input=archive.stdout, check=True)
    return into


def timed_run(src: str, scenario: str, scale: float, keys: str,
              out: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the process tree, transactions) of one signed run."""
    wall, cpu, stdout = timed(src, ["run", scenario, "--scale", str(scale), "--out", out,
                                    "--force", "--keys", keys, "--quiet", "--json"])
    return wall, cpu, json.loads(stdout)["transactions"]


def timed(src: str, args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process tree, stdout) of one command of ``src``'s
    cardsim."""
    env = {**os.environ, "PYTHONPATH": src}
    cmd = [sys.executable, "-m", "cardsim", *args]
    code, stdout, stderr, cpu, wall = run_tree(cmd, src, env)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} in {src}:\n{stderr}")
    return wall, cpu, stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--scenario", default="scenarios/weekday.toml")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = export(a.before, os.makedirs(os.path.join(tmp, "before")) or os.path.join(tmp, "before"))
        keys = os.path.join(tmp, "keys")
        subprocess.run([sys.executable, "-m", "cardsim", "keys", "init", "--dir", keys],
                       check=True, capture_output=True, cwd=ROOT)
        walls: dict[str, list] = {"before": [], "after": []}
        cpus: dict[str, list] = {"before": [], "after": []}
        n = {}
        timed_run(str(ROOT), a.scenario, a.scale, keys, os.path.join(tmp, "warm.db"))  # register
        for _ in range(a.repeats):
            for name, src in (("before", old), ("after", str(ROOT))):
                wall, cpu, n[name] = timed_run(src, os.path.join(src, a.scenario), a.scale, keys,
                                               os.path.join(tmp, f"{name}.db"))
                walls[name].append(wall)
                cpus[name].append(cpu)
        verify = {name: [timed(src, ["verify", os.path.join(tmp, f"{name}.db"), "--keys", keys,
                                     "--quiet", "--json"])[1] for _ in range(a.repeats)]
                  for name, src in (("before", old), ("after", str(ROOT)))}
    verify_rate = {k: n[k] / statistics.median(v) for k, v in verify.items()}
    wall_rate = {k: n[k] / min(v) for k, v in walls.items()}
    cpu_rate = {k: n[k] / statistics.median(v) for k, v in cpus.items()}
    print(json.dumps({
        "benchmark": "tree_cost", "before": a.before, "scenario": a.scenario, "scale": a.scale,
        "cpus": os.cpu_count(), "transactions": n,
        "wall_seconds": {k: [round(w, 3) for w in v] for k, v in walls.items()},
        "cpu_seconds": {k: [round(c, 3) for c in v] for k, v in cpus.items()},
        "records_per_cpu_second": {k: round(v, 1) for k, v in cpu_rate.items()},
        "records_per_wall_second": {k: round(v, 1) for k, v in wall_rate.items()},
        "verify_records_per_cpu_second": {k: round(v, 1) for k, v in verify_rate.items()},
        "ratio": {"cpu": round(cpu_rate["after"] / cpu_rate["before"], 4),
                  "wall": round(wall_rate["after"] / wall_rate["before"], 4),
                  "verify_cpu": round(verify_rate["after"] / verify_rate["before"], 4)},
    }, indent=2))


if __name__ == "__main__":
    main()

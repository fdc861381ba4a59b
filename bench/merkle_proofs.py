#!/usr/bin/env python3
"""Benchmark: the Merkle tree against the hash chain per record, and proofs made and checked per
second.

Prints one JSON object, every figure measured in this run on one core:

- ``tree_vs_chain``: ``merkle.Tree.extend`` (one node hash per leaf on average) against the chain's
  links (``encoding.link``, one hash per record) over the same record hashes; ``ratio`` below 1
  means the tree is the cheaper of the two;
- ``chain_extend``: ``log.chain.Chain.extend`` (record hashes, links, tree, block roots,
  checkpoints) with and without its tree and block roots, per record: what they add to the writer;
- ``proofs``: in-memory ``merkle.inclusion_proof`` / ``consistency_proof`` on ``--leaves`` leaves,
  ``verify_inclusion`` / ``verify_consistency`` per second, and on a signed log of about
  ``--records`` records the ``prove inclusion`` rate through the API (each call opens the log and
  checks its container: ``integrity_check`` reads the whole file), the inclusion and consistency
  proofs alone on a log opened once (stored block roots and at most a block of record hashes per
  node), and the ``check-proof`` (JSON, certificate, signature, path) rate.

    python bench/merkle_proofs.py [--leaves 100000] [--records 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time

from _common import signed_log

from cardsim import api, merkle
from cardsim.log import chain as chain_mod
from cardsim.log.proofs import LogProver
from cardsim.records import encoding as E


def best_of(a, b, repeats: int = 9) -> tuple[float, float]:
    """The fastest of ``repeats`` timings of ``a()`` and of ``b()`` (seconds), taken in turn so
    both see the same host: the least disturbed by other work on a shared machine."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return min(ta), min(tb)


def tree_vs_chain(hashes: list[bytes]) -> dict:
    def chain():
        head, link = bytes(32), E.link
        for h in hashes:
            head = link(head, h)

    def tree():
        merkle.Tree().extend(hashes)
    c, t = best_of(chain, tree)
    n = len(hashes)
    return {"records": n, "chain_us_per_record": round(c / n * 1e6, 3),
            "tree_us_per_record": round(t / n * 1e6, 3), "ratio": round(t / c, 3)}


class _NoTree:
    """Stands in for the tree and its stored blocks: what Chain.extend costs without them."""

    size = 0

    def extend(self, hashes):
        pass

    def root(self):
        return bytes(32)


def chain_extend(rows: list[tuple]) -> dict:
    def run(with_tree: bool):
        def go():
            chain_mod.Tree = merkle.Tree if with_tree else _NoTree
            try:
                c = chain_mod.Chain(bytes(32), 10_000, None)
                for i in range(0, len(rows), 2000):
                    c.extend(rows[i:i + 2000])
            finally:
                chain_mod.Tree = merkle.Tree
        return go
    with_, without = best_of(run(True), run(False))
    n = len(rows)
    return {"records": n, "without_tree_us_per_record": round(without / n * 1e6, 3),
            "with_tree_us_per_record": round(with_ / n * 1e6, 3),
            "ratio": round(with_ / without, 4)}


def rate(fn, args: list, seconds: float = 1.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for a in args:
            fn(*a)
        n += len(args)
    return n / (time.perf_counter() - t0)


def memory_proofs(hashes: list[bytes]) -> dict:
    n, rnd = len(hashes), random.Random(1)
    root = merkle.root(hashes)
    idx = [rnd.randrange(n) for _ in range(20)]
    t0 = time.perf_counter()
    inc = [(hashes[i], i, n, merkle.inclusion_proof(hashes, i), root) for i in idx]
    gen_inc = len(idx) / (time.perf_counter() - t0)
    sizes = sorted(rnd.randrange(1, n) for _ in range(20))
    t0 = time.perf_counter()
    con = [(m, n, merkle.consistency_proof(hashes, m), merkle.root(hashes[:m]), root) for m in sizes]
    gen_con = len(sizes) / (time.perf_counter() - t0)
    return {"leaves": n, "inclusion_generated_per_second": round(gen_inc, 1),
            "consistency_generated_per_second": round(gen_con, 1),
            "inclusion_verified_per_second": round(rate(merkle.verify_inclusion, inc)),
            "consistency_verified_per_second": round(rate(merkle.verify_consistency, con))}


def log_proofs(records: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        keys, log = signed_log(tmp, records)
        con = sqlite3.connect(log)
        n = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
        txs = [r[0] for r in con.execute("SELECT tx_id FROM transactions ORDER BY random() LIMIT 10")]
        con.close()
        t0 = time.perf_counter()
        paths = []
        for i, tx in enumerate(txs):
            p = os.path.join(tmp, f"p{i}.json")
            with open(p, "w") as f:
                json.dump(api.prove_inclusion(log, tx), f)
            paths.append(p)
        made = len(txs) / (time.perf_counter() - t0)
        with LogProver(log) as prover:        # the proof alone, the log opened once
            t0 = time.perf_counter()
            for tx in txs:
                prover.inclusion(tx)
            alone = len(txs) / (time.perf_counter() - t0)
            head = prover.head()["tree_size"]
            t0 = time.perf_counter()
            for m in range(1, 11):
                _ = [prover.subtree_root(a, b) for a, b in
                     merkle.consistency_ranges(m * head // 11, head)]
            consistent = 10 / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for p in paths * 5:
            assert api.check_proof(p, keys).valid
        checked = len(paths) * 5 / (time.perf_counter() - t0)
    return {"records": n, "prove_inclusion_per_second": round(made, 2),
            "inclusion_proofs_per_second_log_open": round(alone, 1),
            "consistency_proofs_per_second_log_open": round(consistent, 1),
            "check_proof_per_second": round(checked, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaves", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=20_000)
    a = ap.parse_args()
    hashes = [os.urandom(32) for _ in range(a.leaves)]
    rows = [(i, f"T{i:010d}", float(i), "transit", 300, None) for i in range(1, a.leaves + 1)]
    print(json.dumps({
        "benchmark": "merkle_proofs", "python": sys.version.split()[0],
        "tree_vs_chain": tree_vs_chain(hashes), "chain_extend": chain_extend(rows),
        "proofs": {**memory_proofs(hashes), "log": log_proofs(a.records)},
    }, indent=2))


if __name__ == "__main__":
    main()

"""Proofs from a log for readers who do not hold it: that a transaction is in the log (inclusion)
and that a signed tree head extends an earlier one (consistency), as JSON documents.

A proof carries what checking it needs besides the trust anchor (``cardsim.audit.proofs``): the
log's id and signature algorithm, the hub's X.509 certificate (to be checked against the root),
the signed tree head(s) and the Merkle audit path; an inclusion proof also carries the record
itself, whose leaf hash the checker recomputes from its columns. Hashes, signatures and byte
values are lower-case hex (byte columns as ``{"hex": ...}``). See docs/log-format.md, "Proofs".

Proof nodes are subtree roots (``cardsim.merkle.inclusion_ranges`` / ``consistency_ranges``),
each computed by streaming its range's record hashes through a :class:`cardsim.merkle.Tree`:
memory stays O(log n) however large the log.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cardsim import merkle
from cardsim.errors import CardsimError, one_line
from cardsim.log.chain import BLOCK, BLOCK_HEIGHT
from cardsim.log.days import log_id_of
from cardsim.log.store import open_log, read_run
from cardsim.records import encoding as E
from cardsim.records.record import COLUMN_NAMES

PROOF_FORMAT = "cardsim-proof/1"
#: The record columns a proof carries: the leaf's content (every column but the chain's two).
LEAF_COLUMNS = tuple(c for c in COLUMN_NAMES if c not in ("prev_hash", "record_hash"))
HEAD_FIELDS = ("checkpoint", "tree_size", "root", "chain_head", "sim_time", "final", "signature")
_HEAD_SQL = ("SELECT checkpoint, count, root, head, sim_time, final, signature FROM checkpoints "
             "WHERE signer = 'hub' ORDER BY checkpoint")


def head_json(row: tuple) -> dict:
    """A ``checkpoints`` row (as :data:`_HEAD_SQL` selects it) as a proof's signed tree head."""
    number, count, root, head, sim_time, final, sig = row
    return {"checkpoint": number, "tree_size": count, "root": _hex(root), "chain_head": _hex(head),
            "sim_time": sim_time, "final": final, "signature": _hex(sig)}


def _hex(value) -> str | None:
    return value.hex() if isinstance(value, bytes) else None


def value_json(v):
    """One record value as JSON (bytes as ``{"hex": ...}``)."""
    return {"hex": v.hex()} if isinstance(v, bytes) else v


class LogProver:
    """A log opened for proving (container checked, read-only)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.conn = open_log(path)
        try:
            self.run = read_run(self.conn, path)
            self.heads = [head_json(r) for r in self.conn.execute(_HEAD_SQL)]
            self.size = self.conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
            self.hub = self.conn.execute("SELECT body FROM certificates WHERE subject = 'hub' "
                                         "AND kind = 'x509'").fetchone()
        except sqlite3.Error as e:
            self.conn.close()
            raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
        if self.run.get("signed") != 1 or not self.heads or self.hub is None:
            self.conn.close()
            raise CardsimError(f"{path}: an unsigned log (or one without signed tree heads) "
                               "proves nothing")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "LogProver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def envelope(self, kind: str) -> dict:
        log_id = log_id_of(self.conn, self.run)
        return {"format": PROOF_FORMAT, "kind": kind, "log_id": log_id.hex(),
                "algorithm": self.run["algorithm"], "hub_certificate": self.hub[0].hex()}

    def head(self, size: int | None = None) -> dict:
        """The signed tree head of ``size`` records (default: the latest, the final one in a
        complete log)."""
        if size is None:
            finals = [h for h in self.heads if h["final"] == 1]
            return (finals or self.heads)[-1]
        for h in reversed(self.heads):
            if h["tree_size"] == size:
                return h
        sizes = ", ".join(str(h["tree_size"]) for h in self.heads[:12])
        raise CardsimError(f"{self.path}: no signed tree head of size {size} (signed sizes: "
                           f"{sizes}{', ...' if len(self.heads) > 12 else ''})")

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH of records start+1 .. end (leaf indexes [start, end)): the stored roots of the
        whole blocks it starts with (``tree_blocks``, when ``start`` is a block boundary), then the
        rest of the record hashes, streamed."""
        tree = merkle.Tree()
        if start % BLOCK == 0 and end - start >= BLOCK:
            first, n = start // BLOCK, (end - start) // BLOCK
            roots = [r[0] for r in self.conn.execute(
                "SELECT root FROM tree_blocks WHERE block >= ? AND block < ? ORDER BY block",
                (first, first + n))]
            if len(roots) == n and all(isinstance(r, bytes) for r in roots):
                for r in roots:
                    tree.append_subtree(r, BLOCK_HEIGHT)
        cur = self.conn.execute("SELECT record_hash FROM transactions WHERE seq > ? AND seq <= ? "
                                "ORDER BY seq", (start + tree.size, end))
        tree.extend([r[0] if isinstance(r[0], bytes) else b"" for r in cur])
        if tree.size != end - start:
            raise CardsimError(f"{self.path}: records {start + 1}..{end} are not all in the log")
        return tree.root()

    def inclusion(self, tx_id: str) -> dict:
        """The proof that transaction ``tx_id`` is in the log's latest signed tree head."""
        row = self.conn.execute(f"SELECT {','.join(LEAF_COLUMNS)} FROM transactions WHERE tx_id = ?",
                                (tx_id,)).fetchone()
        if row is None:
            raise CardsimError(f"--tx {tx_id}: no such transaction in {self.path}")
        index = row[0] - 1 if isinstance(row[0], int) else -1
        head = self.head()
        if not 0 <= index < head["tree_size"]:
            raise CardsimError(f"--tx {tx_id}: record {row[0]} is not covered by the latest "
                               f"signed tree head (size {head['tree_size']})")
        path = [self.subtree_root(a, b) for a, b in merkle.inclusion_ranges(index, head["tree_size"])]
        return {**self.envelope("inclusion"),
                "record": dict(zip(LEAF_COLUMNS, map(value_json, row))),
                "leaf_index": index, "tree_size": head["tree_size"],
                "audit_path": [p.hex() for p in path], "tree_head": head}

    def consistency(self, size1: int, size2: int) -> dict:
        """The proof that the signed tree head of ``size2`` records extends that of ``size1``."""
        if not 0 < size1 <= size2:
            raise CardsimError(f"--from {size1} --to {size2}: expected 0 < from <= to")
        first, second = self.head(size1), self.head(size2)
        path = [self.subtree_root(a, b) for a, b in merkle.consistency_ranges(size1, size2)]
        return {**self.envelope("consistency"), "first": first, "second": second,
                "proof": [p.hex() for p in path]}


def prove_inclusion(log: str | Path, tx_id: str) -> dict:
    with LogProver(log) as p:
        return p.inclusion(tx_id)


def prove_consistency(log: str | Path, size1: int, size2: int) -> dict:
    with LogProver(log) as p:
        return p.consistency(size1, size2)

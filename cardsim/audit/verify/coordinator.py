"""The coordinator: reads the log once in seq order, checks what only that order shows (``seq``
runs 1, 2, 3 … and each ``prev_hash`` links to the chain head) and the uploads, and hands every
record with its link to the card-sharded record workers."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable

from cryptography import x509

from cardsim.audit.verify.anchors import (check_blacklist, check_card_state, check_checkpoints,
                                          check_predecessor, check_tree_blocks, read_checkpoints,
                                          record_context, wrong_root)
from cardsim.audit.verify.findings import Report, Tally
from cardsim.audit.verify.primitives import read_text
from cardsim.audit.verify.records import RecordWorker
from cardsim.audit.verify.uploads import UploadCheck
from cardsim.audit.witness import heads_of, judge, witnessed_heads
from cardsim.config.scenario import Scenario, from_config_json
from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError, one_line
from cardsim.log.chain import BLOCK
from cardsim.log.days import log_id_of
from cardsim.log.store import open_log, read_run
from cardsim.merkle import Tree
from cardsim.records import encoding as E
from cardsim.records.record import COLUMN_NAMES, INDEX
from cardsim.signing.crypto import ALGORITHMS
from cardsim.signing.keys import HUB, load_trust_anchor
from cardsim.workers import ShardedPool, WorkerError

#: Records per batch sent to the workers.
BATCH = 2000
# Measured hot loop (the coordinator reads every record): index constants, not Record fields.
_CARD, _TIME = INDEX["card_id"], INDEX["sim_time"]
_NCOLS = len(COLUMN_NAMES)


#: The headline of a log made under another root: no record is checked against the anchor.
WRONG_ROOT = ("wrong root certificate: the log was not made under the trusted root-ca.pem "
              "(none of its certificates chains to it); nothing in it was checked")
#: The headline of a log whose run did not complete (``runs.completed`` is not 1).
INCOMPLETE = "the run did not complete: the log ends where the run stopped"


def _pair_card(item: tuple) -> str:
    return item[0][_CARD]


def verify(path: str | Path, keys_dir: str | Path = "keys", workers: int = 1,
           progress: Callable[[int], None] | None = None, witnesses=()) -> Report:
    """Verify the log at ``path`` against the root certificate in ``keys_dir``; the report is the
    same for any number of ``workers``. ``witnesses``: witness state files whose countersigned
    heads of this log its tree must hold (``audit.witness``)."""
    root = load_trust_anchor(keys_dir)
    witnessed = witnessed_heads(witnesses)
    for text_factory in (str, read_text):
        conn = open_log(path)
        # Performance shortcut: SQLite's own UTF-8 decoding; only a log holding undecodable text
        # is read again with a Python decoder that turns such values into findings.
        conn.text_factory = text_factory
        try:
            return _verify(conn, str(path), root, max(1, workers), progress, witnessed)
        except sqlite3.OperationalError as e:
            if text_factory is str and "decode" in str(e):
                continue
            raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
        except (sqlite3.DatabaseError, UnicodeDecodeError, ValueError) as e:
            raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
        except WorkerError as e:
            raise CardsimError(f"{path}: verification worker failed: {one_line(e)}") from None
        finally:
            conn.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _scenario(run: dict, path: str) -> Scenario | None:
    config_json = run.get("config_json")
    try:
        return from_config_json(config_json if isinstance(config_json, str) else "", path)
    except CardsimError:
        return None


def _verify(conn, path: str, root: x509.Certificate, workers: int, progress,
            witnessed: list = ()) -> Report:
    run = read_run(conn, path)
    t = Tally()
    algorithm = run.get("algorithm")
    if run.get("signed") != 1 or algorithm not in ALGORITHMS:
        t.fail("format", "unsigned_log")
        n = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
        return Report.of(path, n, t, False, None)
    scenario = _scenario(run, path)
    if scenario is None or not isinstance(run.get("seed"), int):
        t.fail("format", "bad_runs_row")
        return Report.of(path, 0, t, True, algorithm)
    alg = ALGORITHMS[algorithm]
    ctx = record_context(conn, path, alg, scenario, root, t)
    incomplete = None if run.get("completed") == 1 else INCOMPLETE
    if wrong_root(t, ctx.ca_keys):
        n = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
        return Report.of(path, n, t, True, algorithm, _headline(WRONG_ROOT, incomplete), True)
    genesis = log_id_of(conn, run)        # a log that follows another commits to its final head
    check_predecessor(conn, ctx.ca_keys.get(HUB), alg, t)
    checkpoints = read_checkpoints(conn, ctx.ca_keys.get(HUB), alg, genesis, t)
    seen = _witnessed(witnessed, genesis, t)
    walk = ChainWalk(genesis, {cp.count for cp in checkpoints}
                     | {s.head["tree_size"] for _, s, _ in seen}, t)
    period = (genesis, float(scenario.duration_s))     # the log id and the run's end
    uploads = UploadCheck(conn, alg, ctx.ca_keys, scenario.epoch, period, t)
    reports = read_loss_reports(conn, t)
    check_blacklist(conn, reports, ctx.ca_keys, alg, period, t)
    if incomplete is None:           # an unfinished run has no final state to sign
        check_card_state(conn, ctx.ca_keys.get(HUB), alg, period, t)
    ctx = replace(ctx, reported={cid: at for rows in reports.values() for cid, at in rows})
    pool = ShardedPool(partial(RecordWorker, ctx), workers, _pair_card, in_process=workers == 1)
    try:
        _stream(conn, walk, uploads, pool, progress)
        tallies = pool.close()
    except BaseException:       # an error, or Ctrl-C: stop the workers, then let it through
        pool.abort()
        raise
    uploads.close(None)
    check_checkpoints(checkpoints, walk.heads_at, walk.n, t)
    check_tree_blocks(conn, walk.blocks, t)
    _judge_witnessed(seen, walk, t)
    for other in tallies:
        t.merge(other)
    return Report.of(path, walk.n, t, True, algorithm, incomplete)


def _witnessed(states: list, log_id: bytes, t: Tally) -> list:
    """The heads witness states hold of this log; none at all is a finding when states were
    given (``--witness``: the witness never saw this log)."""
    seen = heads_of(states, log_id)
    if states and not seen:
        t.fail("witness", "not_witnessed")
    return seen


def _judge_witnessed(seen: list, walk: "ChainWalk", t: Tally) -> None:
    for reason in judge(seen, walk.heads_at, walk.n):
        if reason is None:
            t.ok("witness")
        else:
            t.fail("witness", reason)


def _headline(*parts: str | None) -> str | None:
    return "; ".join(p for p in parts if p) or None


def read_loss_reports(conn, t: Tally) -> dict[str, list[tuple[str, float]]]:
    """province -> its loss reports (card, reported_at), read once here for every check that
    uses them (the issuers' signed lists and revocation), so no check sees other rows than
    another. A row whose card is not text, province not a province or time not a float is a
    ``blacklist`` finding and no check uses it; an unreadable table is one finding."""
    reports: dict[str, list] = {p: [] for p in PROVINCES}
    try:
        rows = conn.execute("SELECT card_id, card_province, reported_at FROM blacklist").fetchall()
    except sqlite3.Error:
        t.fail("blacklist", "unreadable_loss_reports")
        return reports
    for cid, prov, at in rows:
        if prov in reports and isinstance(cid, str) and isinstance(at, float):
            reports[prov].append((cid, at))
        else:
            t.fail("blacklist", f"malformed_report:{cid!r}")
    return reports


class ChainWalk:
    """What only the log's order shows: ``seq`` runs 1, 2, 3 … and each record's ``prev_hash``
    is the chain head before it. The stored prev_hash carries the chain on, so a deleted or
    inserted record is one finding, not one per record after it. The stored record hashes are
    also the leaves of the Merkle tree the signed tree heads commit to (a record whose hash does
    not match its content is the workers' ``chain`` finding)."""

    def __init__(self, genesis: bytes, wanted: set, t: Tally):
        self.head, self.expected, self.n, self.t = genesis, 1, 0, t
        self.tree = Tree()
        self.block = Tree()                     # the current block of BLOCK leaves
        self.blocks: list[bytes] = []           # the root of each whole block so far
        self.wanted = wanted                    # the checkpoints' record counts
        #: count -> (chain head, tree root) after that many records (none: the genesis and the
        #: empty tree, which a log without records signs)
        self.heads_at: dict[int, tuple[bytes, bytes]] = {0: (genesis, self.tree.root())}

    def step(self, row: tuple) -> bool | None:
        """The next record: whether it links to the chain, or None when it is too malformed to
        check further (a format finding)."""
        self.n += 1
        seq, stored = row[0], row[-1]
        if (len(row) != _NCOLS or not isinstance(seq, int) or not isinstance(stored, bytes)
                or not isinstance(row[_CARD], str)):
            self._malformed(row)
            return None
        if seq == self.expected:
            self.t.ok("sequence")
        else:
            self.t.fail("sequence", "gap" if seq > self.expected else "repeated_or_out_of_order",
                        seq, row[1])
        self.expected = seq + 1
        prev = row[-2]
        linked = prev == self.head
        self.head = E.link(prev if isinstance(prev, bytes) else self.head, stored)
        self._leaf(stored)
        return linked

    def _leaf(self, stored) -> None:
        """The record's leaf (an unusable hash still takes its place: the roots then differ)."""
        leaf = stored if isinstance(stored, bytes) else b""
        self.tree.append(leaf)
        self.block.append(leaf)
        if self.block.size == BLOCK:
            self.blocks.append(self.block.root())
            self.block = Tree()
        if self.n in self.wanted:
            self.heads_at[self.n] = (self.head, self.tree.root())

    def _malformed(self, row: tuple) -> None:
        seq, stored = row[0], row[-1]
        self.t.fail("format", "bad_value_type", seq, row[1] if len(row) > 1 else None)
        if isinstance(stored, bytes) and len(row) >= 2 and isinstance(row[-2], bytes):
            self.head = E.link(row[-2], stored)
        self._leaf(stored)
        self.expected = seq + 1 if isinstance(seq, int) else self.expected + 1


def _stream(conn, walk: ChainWalk, uploads: UploadCheck, pool: ShardedPool, progress) -> None:
    """Every record once, in seq order: the chain walk and the uploads here, the rest in the
    workers as (row, linked) pairs, one batch in flight while the next is read."""
    batch: list[tuple] = []
    in_flight = 0
    for row in conn.execute("SELECT * FROM transactions ORDER BY seq"):
        linked = walk.step(row)
        if linked is None:
            continue
        uploads.add(row)
        if row[_CARD].isdigit():
            batch.append((row, linked))
        else:
            walk.t.fail("card_certificate", "bad_card_number", row[0], row[1])
        if len(batch) >= BATCH:
            in_flight = _ship(batch, uploads, pool, in_flight)
            batch = []
            if progress:
                progress(walk.n)
    if batch:
        _ship(batch, uploads, pool, in_flight)
    if progress:
        progress(walk.n)


def _ship(batch: list[tuple], uploads: UploadCheck, pool: ShardedPool, in_flight: int) -> int:
    """Send a batch to the workers, take the previous batch's replies, close the uploads the
    batch completes; returns the batches in flight."""
    pool.submit(batch)
    if in_flight:
        pool.collect()     # the workers keep their tallies: this only paces the coordinator
    # the earliest time in the batch: one record moved far ahead cannot close batches that later
    # records still belong to
    early = min((r[_TIME] for r, _ in batch if type(r[_TIME]) is float), default=None)
    if early is not None:
        uploads.close(early)
    return 1

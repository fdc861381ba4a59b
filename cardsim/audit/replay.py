"""Replaying a log against merchant and issuer nodes.

Every logged transaction, in log order, is fed to fresh node instances configured from the log's
own scenario (``runs.config_json``) or another one. The nodes are the simulator's own classes and
node methods (``Merchant.tap``, ``Merchant.price_online``, ``Issuer.respond``,
``Issuer.clear_offline``, built by ``cardsim.model.nodes``) the simulation calls: there is no second
copy of any rule, nor of the flow around it, here. The replayed decision (outcome, reason, amount charged)
is compared with the recorded one; what differs is a divergence.

What each node checks:

- **merchant** (every record): the card's certificate (issued by its province's issuer, checked to
  the trusted root) and validity, and the card's signature over the presented data; then, offline,
  the blacklist it holds at that moment, the fare under the replay's rules (distance bands from the
  logged ``trip_km``, transfers, concessions) and the card's balance.
- **issuer** (online records): outage and stand-in policy at the logged decision moment
  (``decided_at``), loss reports, the ATC against the last one it saw.

State evolves with the replayed decisions (a card's balance, transfer and quota follow what the
replay approved), so a changed rule shows every record it changes, knock-on effects included.
Decisions that depend on queueing time (terminal time-outs) are taken as recorded; ``retime``
(the trace-driven what-if, ``cardsim.audit.retime``) re-runs the timing itself.

Cards are the log's cards: their initial state comes from the log's scenario and seed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Callable, NamedTuple

import simpy

from cardsim.audit.divergences import (Divergence, DiffWriter, RevenueChange, context_of, plain,  # noqa: F401
                                      story_entry)
from cardsim.audit.pacing import MAX_PACED_WALL_S, Pace, pacer, warn_long_pace  # noqa: F401 (replay's API)
from cardsim.audit.verify import Context, RecordChecker, Tally, record_context
from cardsim.config import schema
from cardsim.config.scenario import Scenario, apply_set, from_config_json, parse_set
from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError, one_line
from cardsim.log.store import open_log, read_run
from cardsim.log.days import start_replay
from cardsim.model.card import Card, CardPopulation, parse_card_id, population_key
from cardsim.model.nodes import ONLINE_POINT, build_network
from cardsim.model.places import terminal_point
from cardsim.model.streams import Streams
from cardsim.records.record import (APPROVED, COLUMN_NAMES, DECLINED, INDEX, OFFLINE, TERMINAL,
                                    Record)
from cardsim.signing.crypto import ALGORITHMS
from cardsim.signing.keys import load_trust_anchor
from cardsim.workers import ShardedPool, WorkerError

NODES = ("merchant", "issuer")
MAX_DIVERGENCES = 100_000
BATCH = 2000
_I = INDEX
# Measured hot loop (_loop reads every record): index constants, not Record fields.
_CARD_AT, _TIME = INDEX["card_id"], INDEX["sim_time"]
_CARD = itemgetter(_CARD_AT)
_NCOLS = len(COLUMN_NAMES)
_TPROV, _DECIDED, _ATC, _AMOUNT = (INDEX[c] for c in ("terminal_province", "decided_at", "atc",
                                                       "amount_fen"))
_OUTCOME, _REASON = INDEX["outcome"], INDEX["reason"]
_TEXTS = tuple(INDEX[c] for c in ("channel", "service", "mode", "outcome", "authoriser", "tx_id"))


class Decision(NamedTuple):
    """A node's decision on one record, as replay compares it with the recorded one."""

    outcome: str
    reason: str | None
    charged_fen: int
    node: str          # merchant | issuer | terminal


#: What a merchant does with a record whose fields it cannot read.
_MALFORMED = Decision(DECLINED, "malformed_record", 0, "merchant")

@dataclass
class ReplayResult:
    log: str
    scenario: str
    against: tuple
    records: int = 0
    replayed: int = 0
    skipped: int = 0
    by_kind: dict = field(default_factory=lambda: {"outcome": 0, "reason": 0, "amount": 0})
    by_node: dict = field(default_factory=dict)
    by_reason: dict = field(default_factory=dict)  # replayed decline reasons that diverge
    divergences: list = field(default_factory=list)
    signatures_checked: bool = False
    wall_seconds: float = 0.0
    revenue: RevenueChange = field(default_factory=RevenueChange)
    story: list | None = None          # with --card: every replayed record of the card

    @property
    def diverged(self) -> int:
        return sum(self.by_kind.values())

    def as_dict(self) -> dict:
        return {"log": self.log, "scenario": self.scenario, "against": list(self.against),
                "records": self.records, "replayed": self.replayed, "skipped": self.skipped,
                "matched": self.replayed - self.diverged, "diverged": self.diverged,
                "by_kind": self.by_kind, "by_node": self.by_node,
                "replayed_reasons": dict(sorted(self.by_reason.items())),
                "signatures_checked": self.signatures_checked,
                "divergences": [d.as_dict() for d in self.divergences],
                "divergences_truncated": self.diverged > len(self.divergences),
                "revenue_change_yuan": self.revenue.as_dict(),
                **({"card_story": self.story} if self.story is not None else {}),
                "wall_seconds": round(self.wall_seconds, 3),
                "records_per_second": round(self.replayed / self.wall_seconds, 1) if self.wall_seconds else None}


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    province: str | None = None          # terminal province
    time_from: float | None = None
    time_to: float | None = None
    card: str | None = None
    limit: int | None = None

    def match(self, row) -> bool:
        return ((self.channel is None or row[_I["channel"]] == self.channel)
                and (self.province is None or row[_I["terminal_province"]] == self.province)
                and (self.time_from is None or row[_I["sim_time"]] >= self.time_from)
                and (self.time_to is None or row[_I["sim_time"]] < self.time_to)
                and (self.card is None or row[_I["card_id"]] == self.card))


class Nodes:
    """Fresh nodes for one replay, built like the simulation's (:mod:`cardsim.model.nodes`) from
    the rules' scenario, and the log's cards they see. Every decision is a node method's."""

    def __init__(self, log_scenario: Scenario, rules: Scenario, reports: dict[str, float]):
        lcfg = log_scenario.config["provinces"]
        streams = Streams(log_scenario.seed)
        self.pops = {p: CardPopulation(p, lcfg[p], population_key(streams, p)) for p in PROVINCES}
        self.cards: dict[str, Card] = {}
        self.reports = reports
        # the issuers' and hub's capacity and random streams are not used (no timing here)
        net = build_network(simpy.Environment(), rules.config, Streams(rules.seed))
        self.blacklist, self.issuers, self.merchants = net.blacklist, net.issuers, net.merchants

    def card(self, card_id: str) -> Card:
        """The card as the replay has it so far (first seen: its initial state, and its loss
        report from the log)."""
        c = self.cards.get(card_id)
        if c is None:
            prov, serial = parse_card_id(card_id)      # replay reads only sound records
            c = self.cards[card_id] = self.pops[prov].peek(serial)
            c.lost_at = self.reports.get(card_id)
        return c

    def decide(self, rec: Record, against: tuple, merchant_bad: str | None) -> Decision:
        """The replayed decision for one record, updating the nodes' and the card's state.

        ``merchant_bad`` is the merchant's cryptographic verdict on the record (None: sound)."""
        card = self.card(rec.card_id)
        card.atc = rec.atc            # the counter the card presented
        if "merchant" in against and merchant_bad is not None:
            return Decision(DECLINED, merchant_bad, 0, "merchant")
        if rec.mode == OFFLINE:
            return self._offline(rec, card, against)
        return self._online(rec, card, against)

    def _offline(self, rec: Record, card: Card, against: tuple) -> Decision:
        merchant = self.merchants.get((rec.terminal_province, rec.service))
        if "merchant" not in against or merchant is None or not merchant.transit:
            return self._as_recorded(rec, card, "merchant")
        amount, _conc, reason = merchant.tap(card, merchant.base_fare(rec.trip_km), rec.sim_time)
        if reason is not None:
            return Decision(DECLINED, reason, 0, "merchant")
        if "issuer" in against:       # the back office clears the uploaded record
            cleared = self.issuers[card.province].clear_offline(card, rec.atc)
            if cleared is not None:
                return Decision(DECLINED, cleared, 0, "issuer")
        return Decision(APPROVED, None, amount, "merchant")

    def _online(self, rec: Record, card: Card, against: tuple) -> Decision:
        stype = ONLINE_POINT.get(rec.channel)
        if stype is None:
            return self._as_recorded(rec, card, "merchant")
        amount, _conc = self.merchants[(rec.terminal_province, stype)].price_online(
            card, terminal_point(rec.terminal_id))
        if rec.authoriser == TERMINAL or "issuer" not in against:
            # a time-out depends on queueing: taken as recorded (``retime`` re-runs it)
            node = "terminal" if rec.authoriser == TERMINAL else "issuer"
            return Decision(rec.outcome, rec.reason, amount if rec.outcome == APPROVED else 0, node)
        reason, _authoriser = self.authorise(card, rec, amount)
        if reason is None:
            return Decision(APPROVED, None, amount, "issuer")
        return Decision(DECLINED, reason, 0, "issuer")

    def authorise(self, card: Card, rec: Record, amount: int) -> tuple[str | None, str]:
        """The card's issuer's answer to the online request ``rec`` for ``amount``: (reason or
        None, authoriser), the back office's clearing view kept current. The live issuer node
        (``cardsim.net.issuer``) answers through here too."""
        issuer = self.issuers[card.province]
        issuer.clear_offline(card, rec.atc)
        return issuer.respond(card, rec.atc, amount, rec.channel, rec.decided_at, self.blacklist,
                              rec.terminal_province)

    def _as_recorded(self, rec: Record, card: Card, node: str) -> Decision:
        approved = rec.outcome == APPROVED
        charged = rec.amount_fen if approved else 0
        merchant = self.merchants.get((rec.terminal_province, rec.service))
        if approved and rec.mode == OFFLINE and merchant is not None and merchant.transit:
            merchant.charge(card, charged, rec.concession, rec.sim_time)
        return Decision(rec.outcome, rec.reason, charged, node)

    def follow(self, rec: Record) -> None:
        """Keep state in step for a record outside the filters: take it as recorded."""
        self._as_recorded(rec, self.card(rec.card_id), "merchant")


# --- signature checks in worker processes (the merchant's cryptographic checks) ---------------

class MerchantChecks:
    """A pool worker (:class:`cardsim.workers.ShardedPool`): the merchant's cryptographic checks
    of its card shard's records, as (seq, reason or None) pairs."""

    def __init__(self, ctx: Context):
        self.checker = RecordChecker(ctx)

    def handle(self, rows: list) -> list[tuple[int, str | None]]:
        return [(r[0], self.checker.merchant_status(r)) for r in rows]

    def finish(self) -> None:
        self.checker.close()


def _statuses(pool: ShardedPool) -> dict:
    """seq -> the merchant's reason to decline (or None), for the oldest batch submitted."""
    out: dict = {}
    for part in pool.collect():
        out.update(part)
    return out


def replay(path: str | Path, rules: Scenario | None = None, against: tuple = NODES,
           keys_dir: str | Path = "keys", workers: int = 1, filters: Filters = Filters(),
           check_signatures: bool = True, speed: float | None = None,
           diff_out: str | Path | None = None,
           progress: Callable[[int], None] | None = None, force: bool = False,
           notify: Callable[[str], None] | None = None) -> ReplayResult:
    """Replay the log at ``path``; see the module documentation. ``force`` replaces an existing
    ``diff_out``; ``notify(message)`` hears how long a paced replay will take, when over a minute."""
    bad = [a for a in against if a not in NODES]
    if bad or not against:
        raise CardsimError(f"--against: expected a comma-separated subset of merchant,issuer, got "
                           f"{','.join(against) or 'nothing'}")
    try:
        return _replay(path, rules, against, keys_dir, workers, filters, check_signatures, speed,
                       diff_out, progress, force, notify)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
    except WorkerError as e:
        raise CardsimError(f"{path}: replay failed: {one_line(e)}") from None


def _replay(path, rules, against, keys_dir, workers, filters, check_signatures, speed, diff_out,
            progress, force=False, notify=None) -> ReplayResult:
    conn = open_log(path)
    t0 = time.perf_counter()
    try:
        run, log_sc = read_log_scenario(conn, path)
        if rules is None:
            rules = log_sc
        pace = pacer(speed, log_sc.duration_s, filters)
        if pace is not None and notify is not None:
            warn_long_pace(conn, pace, filters, notify)
        # loss reports as verify reads them: a malformed row reports nothing (verify flags it)
        reports = {c: t for c, t in conn.execute("SELECT card_id, reported_at FROM blacklist")
                   if type(c) is str and type(t) is float}
        nodes = Nodes(log_sc, rules, reports)
        start_replay(conn, nodes, log_sc)        # a log that follows another: its cards' start
        result = ReplayResult(str(path), rules.name, tuple(against))
        if filters.card is not None:
            result.story = []
        signed = run.get("signed") == 1
        pool = None
        if check_signatures and signed and "merchant" in against:
            pool = ShardedPool(partial(MerchantChecks, _context(conn, path, run, log_sc, keys_dir)),
                               workers, _CARD, in_process=workers <= 1)
            result.signatures_checked = True
        writer = DiffWriter(diff_out, force) if diff_out else None
        completed = False
        try:
            _loop(conn, nodes, result, tuple(against), filters, pool, pace, writer, progress)
            completed = True
        finally:
            _close(pool, completed)
            if writer is not None:
                writer.close(completed)
    finally:
        conn.close()
    result.wall_seconds = time.perf_counter() - t0
    return result


def _close(pool: ShardedPool | None, completed: bool) -> None:
    """Finish the signature workers after a whole replay; stop them after an error or Ctrl-C."""
    if pool is None:
        return
    if completed:
        pool.close()
    else:
        pool.abort()


def _context(conn, path, run, log_sc: Scenario, keys_dir) -> Context:
    """The merchant's view of the CA layer: the log's certificates checked to the trusted root
    (failures are verify's findings; here an unusable one makes its cards' records decline)."""
    root = load_trust_anchor(keys_dir)
    return record_context(conn, str(path), ALGORITHMS[run["algorithm"]], log_sc, root, Tally())


def _usable(rows: list) -> list:
    """Rows with every column (a row the query could not fill has nothing to replay)."""
    return [r[:_NCOLS] for r in rows if len(r) >= _NCOLS]


def _sound(row: tuple) -> bool:
    """Does the record carry, well-formed, every field a node reads? (A record of an edited log
    may not: it is then the merchant's decline ``malformed_record``, never an exception.)"""
    return (type(row[_CARD_AT]) is str and parse_card_id(row[_CARD_AT]) is not None
            and row[_TPROV] in PROVINCES and type(row[_TIME]) is float
            and type(row[_DECIDED]) is float and type(row[_ATC]) is int
            and type(row[_AMOUNT]) is int and all(type(row[i]) is str for i in _TEXTS))


def _loop(conn, nodes: Nodes, result: ReplayResult, against: tuple, filters: Filters,
          pool: ShardedPool | None, pace: Pace | None, writer, progress) -> None:
    """Every record in log order, the signature checks of batch b+1 running in the workers while
    batch b is replayed."""
    cur = conn.execute("SELECT * FROM transactions ORDER BY seq")
    pending = None     # the batch whose signatures are being checked
    while True:
        fetched = cur.fetchmany(BATCH)
        rows = _usable(fetched)
        if rows and pool is not None:
            pool.submit([r for r in rows if _sound(r) and filters.match(r)])
        if pending is not None:
            status = _statuses(pool) if pool is not None else {}
            _replay_batch(pending, status, nodes, result, against, filters, pace, writer, progress)
        pending = rows or None
        if not fetched:
            break
    if progress:
        progress(result.records)


def _replay_batch(rows: list, status: dict, nodes: Nodes, result: ReplayResult, against: tuple,
                  filters: Filters, pace: Pace | None, writer, progress) -> None:
    for row in rows:
        result.records += 1
        if not _sound(row):
            result.replayed += 1
            _diverge(result, writer, row[0], row[1], _recorded(row), _MALFORMED, row)
            continue
        if not filters.match(row) or (filters.limit is not None and result.replayed >= filters.limit):
            nodes.follow(Record._make(row))
            result.skipped += 1
            continue
        if pace is not None:
            pace.wait(row[_TIME])
        _one(row, nodes, result, against, status.get(row[0]), writer)
        if progress and result.records % BATCH == 0:
            progress(result.records)


def _one(row, nodes: Nodes, result: ReplayResult, against, merchant_bad, writer) -> None:
    rec = Record._make(row)
    result.replayed += 1
    recorded = (rec.outcome, rec.reason, rec.amount_fen if rec.outcome == APPROVED else 0)
    d = nodes.decide(rec, against, merchant_bad)
    got = (d.outcome, d.reason, d.charged_fen)
    if result.story is not None and len(result.story) < MAX_DIVERGENCES:
        result.story.append(story_entry(rec.seq, rec.tx_id, context_of(row), recorded, got, d.node))
    if got != recorded:
        _diverge(result, writer, rec.seq, rec.tx_id, recorded, d, row)


def _recorded(row: tuple) -> tuple:
    """The recorded (outcome, reason, charged) of a record whose values may be of any type,
    as plain JSON values."""
    outcome, reason, amount = (_plain(row[i]) for i in (_OUTCOME, _REASON, _AMOUNT))
    return outcome, reason, amount if outcome == APPROVED else 0


_plain = plain


def _diverge(result: ReplayResult, writer, seq, tx_id, recorded: tuple, d: "Decision",
             row=None) -> None:
    got = (d.outcome, d.reason, d.charged_fen)
    ctx = context_of(row)
    result.revenue.add(ctx, recorded[2], got[2])
    kind = "outcome" if d.outcome != recorded[0] else "reason" if d.reason != recorded[1] else "amount"
    result.by_kind[kind] += 1
    result.by_node[d.node] = result.by_node.get(d.node, 0) + 1
    if d.reason is not None:
        result.by_reason[d.reason] = result.by_reason.get(d.reason, 0) + 1
    div = Divergence(_plain(seq), _plain(tx_id), kind, d.node, recorded, got, tuple(ctx.items()))
    if len(result.divergences) < MAX_DIVERGENCES:
        result.divergences.append(div)
    if writer is not None:
        writer.write(div)


def read_log_scenario(conn, path) -> tuple[dict, Scenario]:
    """The log's runs row and its own scenario (runs.config_json, re-validated)."""
    run = read_run(conn, path)
    return run, from_config_json(run.get("config_json") or "", f"{path} (runs.config_json)",
                                 name=run.get("scenario_name") or "log")


def log_scenario(path: str | Path, sets=()) -> Scenario:
    """The log's own scenario (runs.config_json), with ``--set`` overrides applied and validated."""
    conn = open_log(path)
    try:
        _run, sc = read_log_scenario(conn, path)
    finally:
        conn.close()
    cfg = sc.config
    for item in sets:
        key, value = parse_set(item)
        apply_set(cfg, key, value)
    for key, msg in schema.cross_checks(cfg):
        raise CardsimError(f"{path} (with --set): {key}: {msg}")
    return Scenario(name=f"{sc.name}+set", source=sc.source, text="", config=cfg, seed=sc.seed,
                    sets=tuple(sets))

"""Replaying a log against merchant and issuer nodes.

Every logged transaction, in log order, is fed to fresh node instances configured from the log's
own scenario (``runs.config_json``) or another one. The nodes are the simulator's own classes and
decision rules (``Merchant.decide_offline``, ``Issuer.decide``, ``Issuer.stand_in``, the fare rules):
there is no second copy of any rule here. The replayed decision (outcome, reason, amount charged)
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
Decisions that depend on queueing time (terminal time-outs) are taken as recorded; ``--timing``
(the trace-driven what-if) re-runs the timing itself.

Cards are the log's cards: their initial state comes from the log's scenario and seed.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Callable

import simpy

from cardsim.audit.verify import Context, RecordChecker, Tally, record_context
from cardsim.domain import PROVINCES
from cardsim.signing.crypto import ALGORITHMS
from cardsim.signing.keys import load_trust_anchor
from cardsim.model.card import CODE_PROVINCE, CardPopulation
import sqlite3

from cardsim.workers import ShardedPool
from cardsim.errors import CardsimError, one_line
from cardsim.model.fares import SENIOR_QUOTA, TransitFares, ticket_price
from cardsim.model.issuer import Issuer
from cardsim.log.store import open_log, read_run
from cardsim.model.blacklist import Blacklist
from cardsim.model.merchant import Merchant
from cardsim.records.record import APPROVED, COLUMN_NAMES, DECLINED, INDEX, OFFLINE, TERMINAL
from cardsim.config.scenario import Scenario, from_config_json
from cardsim.model.streams import Streams

NODES = ("merchant", "issuer")
MAX_DIVERGENCES = 100_000
BATCH = 2000
_I = INDEX
# Measured hot loop (_loop reads every record): index constants, not Record fields.
_CARD_AT, _TIME = INDEX["card_id"], INDEX["sim_time"]
_CARD = itemgetter(_CARD_AT)
_NCOLS = len(COLUMN_NAMES)
_CERT_REASON = {"expired": "card_expired", "not_yet_valid": "card_expired",
                "invalid": "bad_card_signature"}


@dataclass(frozen=True)
class Divergence:
    seq: int
    tx_id: str
    kind: str                 # outcome | reason | amount
    node: str                 # the node whose replayed decision differs: merchant | issuer | terminal
    recorded: tuple           # (outcome, reason, charged_fen)
    replayed: tuple

    def as_dict(self) -> dict:
        r, p = self.recorded, self.replayed
        return {"seq": self.seq, "tx_id": self.tx_id, "kind": self.kind, "node": self.node,
                "recorded": {"outcome": r[0], "reason": r[1], "charged_fen": r[2]},
                "replayed": {"outcome": p[0], "reason": p[1], "charged_fen": p[2]}}


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
    """Fresh merchant and issuer nodes for one replay, and the cards they see."""

    def __init__(self, log_scenario: Scenario, rules: Scenario, reports: dict[str, float]):
        rcfg = rules.config["provinces"]
        lcfg = log_scenario.config["provinces"]
        streams = Streams(log_scenario.seed)
        self.pops = {p: CardPopulation(p, lcfg[p], streams.key(f"cards/{p}")) for p in PROVINCES}
        self.cards: dict[str, object] = {}
        self.reports = reports
        self.fares = {p: TransitFares(rcfg[p]) for p in PROVINCES}
        self.rcfg = rcfg
        self.blacklist = Blacklist({p: rcfg[p]["blacklist_push_delay_s"] for p in PROVINCES},
                                   {p: rcfg[p]["blacklist_push_interval_s"] for p in PROVINCES})
        env = simpy.Environment()   # the issuers' capacity is not used without --timing
        import numpy as np
        self.issuers = {p: Issuer(env, p, rcfg[p]["issuer"], np.random.default_rng(0)) for p in PROVINCES}
        self.merchants = {}
        from cardsim.config.schema import SERVICE_TYPES
        for p in PROVINCES:
            for t in SERVICE_TYPES:
                self.merchants[(p, t)] = Merchant(f"{p}-{t.replace('_', '-')}", p, t,
                                                  rcfg[p][t]["upload_interval_s"], self.blacklist)

    def card(self, card_id: str):
        c = self.cards.get(card_id)
        if c is None:
            prov = CODE_PROVINCE[card_id[:2]]
            c = self.cards[card_id] = self.pops[prov].peek(int(card_id[2:]))
            c.lost_at = self.reports.get(card_id)
        return c

    def decide(self, row, against: tuple, merchant_bad: str | None) -> tuple[str, str | None, int, str]:
        """(outcome, reason, charged_fen, node) for one record, updating the nodes' state."""
        card = self.card(row[_I["card_id"]])
        card.atc = row[_I["atc"]]            # the counter the card presented
        tprov = row[_I["terminal_province"]]
        channel, service, mode = row[_I["channel"]], row[_I["service"]], row[_I["mode"]]
        now = row[_I["sim_time"]]
        if "merchant" in against and merchant_bad is not None:
            return DECLINED, merchant_bad, 0, "merchant"
        if mode == OFFLINE:
            if "merchant" not in against:
                return self._as_recorded(row, card, "merchant")
            fares = self.fares[tprov]
            if service == "metro":
                km = row[_I["trip_km"]]
                base = fares.metro_base(km) if isinstance(km, float) else fares.flat_metro
            else:
                base = fares.bus_fare
            amount, conc = fares.price(card, service, base, now)
            reason = self.merchants[(tprov, service)].decide_offline(card, amount, now)
            if reason is None:
                card.balance_fen -= amount
                if conc is SENIOR_QUOTA:
                    card.quota_left -= 1
                card.last_transit_t, card.last_transit_mode = now, service
                if "issuer" in against:     # the back office clears the uploaded record
                    cleared = self.issuers[card.province].clear_offline(card.card_id, row[_I["atc"]])
                    if cleared is not None:
                        return DECLINED, cleared, 0, "issuer"
                return APPROVED, None, amount, "merchant"
            return DECLINED, reason, 0, "merchant"
        # online: the merchant prices it, the issuer (or stand-in) decides
        if channel == "tourism":
            amount, _ = ticket_price(card, self.rcfg[tprov]["scenic_gate"])
        else:
            amount = self.rcfg[tprov]["gov_window"]["fee_fen"]
        if row[_I["authoriser"]] == TERMINAL or "issuer" not in against:
            node = "terminal" if row[_I["authoriser"]] == TERMINAL else "issuer"
            outcome, reason = row[_I["outcome"]], row[_I["reason"]]
            # a time-out depends on queueing: taken as recorded (``--timing`` re-runs it)
            return outcome, reason, amount if outcome == APPROVED else 0, node
        issuer = self.issuers[card.province]
        issuer.clear_offline(card.card_id, row[_I["atc"]])   # keeps the clearing view current
        at = row[_I["decided_at"]]
        if issuer.down(at):      # the stand-in applies the issuer's delegated policy
            reason = issuer.stand_in(card, amount, channel, at, self.blacklist, tprov)
        else:
            reason = issuer.decide(card, row[_I["atc"]], amount, at)
        return (APPROVED, None, amount, "issuer") if reason is None else (DECLINED, reason, 0, "issuer")

    def _as_recorded(self, row, card, node: str) -> tuple:
        outcome = row[_I["outcome"]]
        charged = row[_I["amount_fen"]] if outcome == APPROVED else 0
        if outcome == APPROVED and row[_I["mode"]] == OFFLINE:
            card.balance_fen -= charged
            card.last_transit_t, card.last_transit_mode = row[_I["sim_time"]], row[_I["service"]]
        return outcome, row[_I["reason"]], charged, node

    def follow(self, row) -> None:
        """Keep state in step for a record outside the filters: take it as recorded."""
        self._as_recorded(row, self.card(row[_I["card_id"]]), "merchant")


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
           progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Replay the log at ``path``; see the module documentation."""
    bad = [a for a in against if a not in NODES]
    if bad or not against:
        raise CardsimError(f"--against: expected a comma-separated subset of merchant,issuer, got "
                           f"{','.join(against) or 'nothing'}")
    try:
        return _replay(path, rules, against, keys_dir, workers, filters, check_signatures, speed,
                       diff_out, progress)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None


def _replay(path, rules, against, keys_dir, workers, filters, check_signatures, speed, diff_out,
            progress) -> ReplayResult:
    conn = open_log(path)
    t0 = time.perf_counter()
    try:
        run, log_sc = read_log_scenario(conn, path)
        if rules is None:
            rules = log_sc
        reports = {c: t for c, t in conn.execute("SELECT card_id, reported_at FROM blacklist")}
        nodes = Nodes(log_sc, rules, reports)
        result = ReplayResult(str(path), rules.name, tuple(against))
        signed = run.get("signed") == 1
        pool = None
        if check_signatures and signed and "merchant" in against:
            pool = ShardedPool(partial(MerchantChecks, _context(conn, path, run, log_sc, keys_dir)),
                               workers, _CARD, in_process=workers <= 1)
            result.signatures_checked = True
        writer = _DiffWriter(diff_out) if diff_out else None
        completed = False
        try:
            _loop(conn, nodes, result, tuple(against), filters, pool, speed, writer, progress)
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


@dataclass
class _Pace:
    """``--speed``: replayed records follow simulated time at ``speed`` times real time."""

    speed: float
    wall0: float = field(default_factory=time.perf_counter)
    sim0: float | None = None

    def wait(self, sim_time: float) -> None:
        if self.sim0 is None:
            self.sim0 = sim_time
        lag = (sim_time - self.sim0) / self.speed - (time.perf_counter() - self.wall0)
        if lag > 0:
            time.sleep(lag)


def _usable(rows: list) -> list:
    """Rows with every column and a well-formed card number (others cannot be replayed)."""
    return [r[:_NCOLS] for r in rows if len(r) >= _NCOLS and isinstance(r[_CARD_AT], str)
            and r[_CARD_AT][:2] in CODE_PROVINCE and r[_CARD_AT].isdigit()]


def _loop(conn, nodes: Nodes, result: ReplayResult, against: tuple, filters: Filters,
          pool: ShardedPool | None, speed, writer, progress) -> None:
    """Every record in log order, the signature checks of batch b+1 running in the workers while
    batch b is replayed."""
    cur = conn.execute("SELECT * FROM transactions ORDER BY seq")
    pace = _Pace(speed) if speed else None
    pending = None     # the batch whose signatures are being checked
    while True:
        fetched = cur.fetchmany(BATCH)
        rows = _usable(fetched)
        if rows and pool is not None:
            pool.submit([r for r in rows if filters.match(r)])
        if pending is not None:
            status = _statuses(pool) if pool is not None else {}
            _replay_batch(pending, status, nodes, result, against, filters, pace, writer, progress)
        pending = rows or None
        if not fetched:
            break
    if progress:
        progress(result.records)


def _replay_batch(rows: list, status: dict, nodes: Nodes, result: ReplayResult, against: tuple,
                  filters: Filters, pace: "_Pace | None", writer, progress) -> None:
    for row in rows:
        result.records += 1
        if not filters.match(row) or (filters.limit is not None and result.replayed >= filters.limit):
            nodes.follow(row)
            result.skipped += 1
            continue
        if pace is not None:
            pace.wait(row[_TIME])
        _one(row, nodes, result, against, status.get(row[0]), writer)
        if progress and result.records % BATCH == 0:
            progress(result.records)


def _one(row, nodes: Nodes, result: ReplayResult, against, merchant_bad, writer) -> None:
    result.replayed += 1
    rec_outcome, rec_reason = row[_I["outcome"]], row[_I["reason"]]
    rec = (rec_outcome, rec_reason, row[_I["amount_fen"]] if rec_outcome == APPROVED else 0)
    outcome, reason, charged, node = nodes.decide(row, against, merchant_bad)
    got = (outcome, reason, charged)
    if got == rec:
        return
    kind = "outcome" if outcome != rec_outcome else "reason" if reason != rec_reason else "amount"
    result.by_kind[kind] += 1
    result.by_node[node] = result.by_node.get(node, 0) + 1
    if reason is not None:
        result.by_reason[reason] = result.by_reason.get(reason, 0) + 1
    d = Divergence(row[0], row[1], kind, node, rec, got)
    if len(result.divergences) < MAX_DIVERGENCES:
        result.divergences.append(d)
    if writer is not None:
        writer.write(d)


class _DiffWriter:
    """All divergences to CSV, streamed (not capped), written to a temporary name and renamed at
    the end so a partial file never looks complete."""

    FIELDS = ("seq", "tx_id", "kind", "node", "recorded_outcome", "recorded_reason",
              "recorded_charged_fen", "replayed_outcome", "replayed_reason", "replayed_charged_fen")

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.parent.exists():
            raise CardsimError(f"--diff-out {path}: directory {self.path.parent} does not exist")
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.f = open(self.tmp, "w", newline="", encoding="utf-8")
        self.w = csv.writer(self.f)
        self.w.writerow(self.FIELDS)

    def write(self, d: Divergence) -> None:
        self.w.writerow((d.seq, d.tx_id, d.kind, d.node, *d.recorded, *d.replayed))

    def close(self, completed: bool) -> None:
        self.f.close()
        if completed:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def read_log_scenario(conn, path) -> tuple[dict, Scenario]:
    """The log's runs row and its own scenario (runs.config_json, re-validated)."""
    run = read_run(conn, path)
    return run, from_config_json(run.get("config_json") or "", f"{path} (runs.config_json)",
                                 name=run.get("scenario_name") or "log")


def log_scenario(path: str | Path, sets=()) -> Scenario:
    """The log's own scenario (runs.config_json), with ``--set`` overrides applied and validated."""
    from cardsim.config.scenario import apply_set, parse_set
    conn = open_log(path)
    try:
        _run, sc = read_log_scenario(conn, path)
    finally:
        conn.close()
    cfg = sc.config
    for item in sets:
        key, value = parse_set(item)
        apply_set(cfg, key, value)
    from cardsim.config import schema
    for key, msg in schema.cross_checks(cfg):
        raise CardsimError(f"{path} (with --set): {key}: {msg}")
    return Scenario(name=f"{sc.name}+set", source=sc.source, text="", config=cfg, seed=sc.seed,
                    sets=tuple(sets))

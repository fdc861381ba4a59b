"""``cardsim replay LOG --target NAME=HOST:PORT``: send every online request of a log to live
nodes (cardsim's own or a system under test) and compare their answers with the log.

Records go out in log order per card (a card's records always take the same connection, one at
a time), with ``concurrency`` requests in flight, paced by ``rate`` per second or ``speed`` times
the log's clock, chosen by the same filters as the in-process replay. Each answer is compared
with the recorded decision (response code, outcome, reason, authoriser: :mod:`.answers`), its
signature verified against the signing node's certificate, and its latency measured. A target
that stops answering is counted (time-outs, connection errors); once it refuses connections or
fails :data:`MAX_FAILURES` times in a row its remaining records are named as not replayed, so
the replay ends within a few time-outs.

Which records: online records decided by an issuer or in stand-in (a terminal's time-out
depends on queueing and is taken as recorded, as in-process replay does). Targets: ``hub``
(every card), or ``issuer-sichuan`` / ``issuer-chongqing`` (that province's cards).
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from cardsim.audit.pacing import pacer
from cardsim.audit.replay import Filters, _sound, read_log_scenario
from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError, one_line
from cardsim.log.store import open_log
from cardsim.net import codes
from cardsim.net import messages as M
from cardsim.net.answers import Expected, NodeKeys, echo_problem, expected
from cardsim.net.client import Connection, NodeError, parse_address
from cardsim.records.record import (APPROVED, COLUMN_NAMES, ISSUER, OFFLINE, ONLINE, STANDIN,
                                    TERMINAL, Record)
from cardsim.signing.keys import merchant_ids

TARGET_NAMES = (("hub",) + tuple(f"issuer-{p}" for p in PROVINCES)
                + tuple(f"acquirer-{m}" for m in merchant_ids()))
MAX_LISTED = 1000          # divergences and problems listed (all are counted)
#: Consecutive time-outs or errors after which a target counts as gone (its remaining records
#: are not sent), so a node that hangs ends the replay within a few time-outs.
MAX_FAILURES = 3
_NCOLS = len(COLUMN_NAMES)


@dataclass
class TargetStats:
    name: str
    address: str
    sent: int = 0
    answered: int = 0
    timeouts: int = 0
    errors: int = 0
    bad_signatures: int = 0
    not_replayed: int = 0
    latencies: list = field(default_factory=list)

    def as_dict(self) -> dict:
        lat = sorted(self.latencies)
        pct = {f"p{q}": _ms(_percentile(lat, q / 100)) for q in (50, 95, 99)}
        return {"name": self.name, "address": self.address, "sent": self.sent,
                "answered": self.answered, "timeouts": self.timeouts, "errors": self.errors,
                "bad_signatures": self.bad_signatures, "not_replayed": self.not_replayed,
                "latency_ms": {**pct, "max": _ms(lat[-1] if lat else None)}}


def _percentile(values: list, q: float):
    """Nearest-rank percentile of sorted ``values`` (None when empty)."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def _ms(v):
    return None if v is None else round(v * 1000, 3)


@dataclass
class TargetReplayResult:
    log: str
    targets: dict
    records: int = 0
    selected: int = 0
    matched: int = 0
    by_kind: dict = field(default_factory=lambda: {"response_code": 0, "outcome": 0, "reason": 0,
                                                   "authoriser": 0})
    divergences: list = field(default_factory=list)
    problems: list = field(default_factory=list)     # time-outs, errors, invalid answers
    not_replayed: list = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def diverged(self) -> int:
        return sum(self.by_kind.values())

    @property
    def ok(self) -> bool:
        return not self.diverged and not any(
            t.timeouts or t.errors or t.bad_signatures or t.not_replayed
            for t in self.targets.values())

    def as_dict(self) -> dict:
        sent = sum(t.sent for t in self.targets.values())
        return {"log": self.log, "mode": "target", "records": self.records,
                "selected": self.selected, "sent": sent, "matched": self.matched,
                "diverged": self.diverged, "by_kind": self.by_kind,
                "targets": [t.as_dict() for t in self.targets.values()],
                "divergences": self.divergences[:MAX_LISTED], "problems": self.problems[:MAX_LISTED],
                "not_replayed": len(self.not_replayed),
                "not_replayed_tx_ids": self.not_replayed[:MAX_LISTED], "ok": self.ok,
                "wall_seconds": round(self.wall_seconds, 3),
                "requests_per_second": round(sent / self.wall_seconds, 1) if self.wall_seconds else None}


@dataclass(frozen=True)
class Job:
    rec: Record
    target: str
    request: M.AuthRequest
    want: Expected
    message: bytes         # the request encoded (before the clock starts)


def parse_targets(items: Sequence[str]) -> dict[str, tuple[str, int]]:
    out = {}
    for item in items:
        name, sep, addr = item.partition("=")
        if not sep or name not in TARGET_NAMES:
            raise CardsimError(f"--target {item!r}: expected NAME=HOST:PORT with NAME one of "
                               f"{', '.join(TARGET_NAMES)}")
        try:
            out[name] = parse_address(addr, f"--target {name}")
        except ValueError as e:
            raise CardsimError(str(e)) from None
    if "hub" in out and any(n.startswith("issuer-") for n in out):
        raise CardsimError("--target: hub routes every card; give it or the issuers, not both")
    return out


def _route(rec: Record, targets: dict) -> str | None:
    """The target a record goes to: its merchant's acquirer, else the hub, else its card's
    issuer (None: no target takes it)."""
    acquirer = f"acquirer-{rec.merchant_id}"
    if acquirer in targets:
        return acquirer
    if rec.mode != ONLINE:
        return None
    return "hub" if "hub" in targets else (
        f"issuer-{rec.card_province}" if f"issuer-{rec.card_province}" in targets else None)


def _wanted(rec: Record) -> bool:
    """Online records an issuer or stand-in decided, and approved offline taps (uploaded and
    cleared by the card's issuer through an acquirer)."""
    if rec.mode == ONLINE:
        return rec.authoriser in (ISSUER, STANDIN)
    return rec.mode == OFFLINE and rec.authoriser == TERMINAL and rec.outcome == APPROVED


def select(conn, epoch: int, targets: dict, filters: Filters, result: TargetReplayResult) -> list[Job]:
    """The jobs of the log's online records, in log order."""
    certs = {s: (b, g) for s, b, g in conn.execute(
        "SELECT subject, body, signature FROM certificates WHERE kind = 'card'")
        if isinstance(b, bytes) and isinstance(g, bytes)}
    jobs = []
    for row in conn.execute("SELECT * FROM transactions ORDER BY seq"):
        result.records += 1
        if len(row) < _NCOLS or not _sound(row[:_NCOLS]) or not filters.match(row):
            continue
        rec = Record._make(row[:_NCOLS])
        if not _wanted(rec):
            continue
        target = _route(rec, targets)
        cert = certs.get(rec.card_id)
        if target is None or cert is None or not isinstance(rec.card_sig, bytes):
            continue
        if filters.limit is not None and len(jobs) >= filters.limit:
            break
        stan = f"{len(jobs) % 1_000_000:06d}"
        req = M.AuthRequest.from_record(rec, epoch, stan, cert)
        if rec.mode == OFFLINE:     # cleared by the acquirer's back office: 00
            want, message = Expected(codes.APPROVED_CODE, None, None, None), req.encode(M.UPLOAD)
        else:
            want = expected(rec.outcome, rec.reason, rec.authoriser, not target.startswith("issuer-"))
            message = req.encode()
        jobs.append(Job(rec, target, req, want, message))
    result.selected = len(jobs)
    return jobs


class Runner:
    """The replay's event loop side: workers, connections, pacing and judging."""

    def __init__(self, targets: dict, keys: NodeKeys, result: TargetReplayResult,
                 concurrency: int, timeout: float, progress):
        self.targets, self.keys, self.result = targets, keys, result
        self.concurrency, self.timeout, self.progress = concurrency, timeout, progress
        self.dead: set[str] = set()
        self.failures: dict[str, int] = {}     # target -> consecutive time-outs and errors
        self.done = 0

    async def check_reachable(self) -> None:
        for name, (host, port) in self.targets.items():
            try:
                conn = await Connection.open(host, port, self.timeout)
                doc = await conn.exchange(M.network_request("000000", M.ECHO), self.timeout)
                conn.close()
            except (NodeError, M.MessageError) as e:
                raise CardsimError(f"--target {name}={host}:{port}: cannot be reached ({e})") from None
            if doc.get("t") != M.NETWORK_RESPONSE or doc.get("39") != codes.APPROVED_CODE:
                raise CardsimError(f"--target {name}={host}:{port}: no 0810 answer to an echo")

    async def run(self, jobs: list[Job], pace_wait) -> None:
        queues = [asyncio.Queue(maxsize=256) for _ in range(self.concurrency)]
        workers = [asyncio.create_task(self._worker(q)) for q in queues]
        try:
            for job in jobs:
                await pace_wait(job.rec)
                await queues[int(job.rec.card_id) % self.concurrency].put(job)
            for q in queues:
                await q.put(None)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()

    async def _worker(self, queue: asyncio.Queue) -> None:
        conns: dict[str, Connection] = {}
        try:
            while (job := await queue.get()) is not None:
                await self._one(job, conns)
                self.done += 1
                if self.progress and self.done % 50 == 0:
                    self.progress(self.done, self.result.selected)
        finally:
            for c in conns.values():
                c.close()

    async def _one(self, job: Job, conns: dict) -> None:
        stats = self.result.targets[job.target]
        if job.target in self.dead:
            stats.not_replayed += 1
            self.result.not_replayed.append(job.rec.tx_id)
            return
        stats.sent += 1
        t0 = time.perf_counter()
        try:
            doc = await self._exchange(job, conns)
        except NodeError as e:
            self._failed(job, stats, conns, str(e))
            return
        except M.MessageError as e:
            self._failed(job, stats, conns, f"invalid answer: {e}", invalid=True)
            return
        stats.latencies.append(time.perf_counter() - t0)
        stats.answered += 1
        self.failures[job.target] = 0
        self._judge(job, doc, stats)

    async def _exchange(self, job: Job, conns: dict) -> dict:
        """The answer to ``job`` on this worker's connection to its target; a kept connection
        the node closed meanwhile (its idle time-out, when pacing is slow) is replaced once."""
        conn = conns.get(job.target)
        if conn is not None:
            try:
                return await conn.exchange(job.message, self.timeout)
            except NodeError as e:
                conns.pop(job.target).close()
                if str(e) == "time-out":
                    raise
        conn = conns[job.target] = await Connection.open(*self.targets[job.target], self.timeout)
        return await conn.exchange(job.message, self.timeout)

    def _failed(self, job: Job, stats: TargetStats, conns: dict, why: str,
                invalid: bool = False) -> None:
        c = conns.pop(job.target, None)
        if c is not None:
            c.close()
        if invalid:
            stats.bad_signatures += 1
        else:
            if why == "time-out":
                stats.timeouts += 1
            else:
                stats.errors += 1
            n = self.failures[job.target] = self.failures.get(job.target, 0) + 1
            if why.startswith("cannot connect") or n >= MAX_FAILURES:
                self.dead.add(job.target)       # the node is gone: the rest is not replayed
        self._problem(job, why)

    def _problem(self, job: Job, why: str) -> None:
        if len(self.result.problems) < MAX_LISTED:
            self.result.problems.append({"seq": job.rec.seq, "tx_id": job.rec.tx_id,
                                         "target": job.target, "problem": why})

    def _judge(self, job: Job, doc: dict, stats: TargetStats) -> None:
        offline = job.rec.mode == OFFLINE
        try:
            resp = M.parse_response(doc, M.UPLOAD_RESPONSE if offline else M.AUTH_RESPONSE)
            bad = echo_problem(job.request, resp) or (
                None if offline else self.keys.valid(job.request, resp))
        except M.MessageError as e:
            bad = f"invalid answer: {e}"
        if bad is not None:
            stats.bad_signatures += 1
            self._problem(job, bad)
            return
        kind = _divergence(job.want, resp)
        if kind is None:
            self.result.matched += 1
            return
        self.result.by_kind[kind] += 1
        got = codes.decision_of(resp.code) or (None, None)
        if len(self.result.divergences) < MAX_LISTED:
            w = job.want
            self.result.divergences.append({
                "seq": job.rec.seq, "tx_id": job.rec.tx_id, "target": job.target, "kind": kind,
                "recorded": {"code": w.code, "outcome": w.outcome, "reason": w.reason,
                             "authoriser": w.authoriser},
                "replayed": {"code": resp.code, "outcome": got[0], "reason": got[1],
                             "authoriser": resp.authoriser}})


def _divergence(want: Expected, resp: M.AuthResponse) -> str | None:
    got = codes.decision_of(resp.code)
    if got is None or want.outcome is None:
        return None if resp.code == want.code else "response_code"
    if got[0] != want.outcome:
        return "outcome"
    if got[1] != want.reason:
        return "reason"
    if resp.authoriser != want.authoriser:
        return "authoriser"
    return None


def _pacing(speed: float | None, rate: float | None, duration_s: float, filters: Filters):
    if speed is not None and rate is not None:
        raise CardsimError("--rate and --speed: give one of them")
    if rate is not None and (not math.isfinite(rate) or rate <= 0):
        raise CardsimError(f"--rate {rate}: expected a positive number")
    pace = pacer(speed, duration_s, filters)
    state = {"t0": None, "n": 0}

    async def wait(rec: Record) -> None:
        if rate is not None:
            if state["t0"] is None:
                state["t0"] = time.perf_counter()
            state["n"] += 1
            lag = state["t0"] + state["n"] / rate - time.perf_counter()
        elif pace is not None:
            lags: list = []
            pace.sleep = lags.append       # Pace clamps a hostile log's times; we sleep async
            pace.wait(rec.sim_time)
            lag = lags[0] if lags else 0.0
        else:
            return
        if lag > 0:
            await asyncio.sleep(lag)
    return wait


def replay_targets(path: str | Path, targets: Sequence[str], keys_dir: str | Path = "keys",
                   filters: Filters = Filters(), concurrency: int = 8, timeout: float = 2.0,
                   rate: float | None = None, speed: float | None = None,
                   progress: Callable[[int, int], None] | None = None) -> TargetReplayResult:
    """Replay the log at ``path`` against the live ``targets`` (``NAME=HOST:PORT``)."""
    table = parse_targets(targets)
    if not table:
        raise CardsimError("--target: give at least one NAME=HOST:PORT")
    if not 1 <= concurrency <= 1024:
        raise CardsimError(f"--concurrency {concurrency}: expected 1..1024")
    if not (math.isfinite(timeout) and 0 < timeout <= 600):
        raise CardsimError(f"--timeout {timeout}: expected 0 < seconds <= 600")
    result = TargetReplayResult(str(path), {n: TargetStats(n, f"{h}:{p}") for n, (h, p) in table.items()})
    conn = open_log(path)
    try:
        run, sc = read_log_scenario(conn, path)
        if run.get("signed") != 1:
            raise CardsimError(f"{path}: not a signed log: its requests carry no cryptograms")
        keys = NodeKeys(keys_dir, run.get("algorithm"))
        wait = _pacing(speed, rate, sc.duration_s, filters)
        jobs = select(conn, sc.epoch, table, filters, result)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
    finally:
        conn.close()
    runner = Runner(table, keys, result, concurrency, timeout, progress)
    t0 = time.perf_counter()
    asyncio.run(_main(runner, jobs, wait))
    result.wall_seconds = time.perf_counter() - t0
    if progress:
        progress(runner.done, result.selected)
    return result


async def _main(runner: Runner, jobs: list[Job], wait) -> None:
    await runner.check_reachable()
    await runner.run(jobs, wait)

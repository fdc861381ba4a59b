"""Trace-driven what-if (``cardsim retime``): yesterday's real demand, tomorrow's capacity.

The logged arrivals (time, card, channel, service point, trip length, government item) are fed
through the simulation clock at their logged arrival times, in place of the scenario's demand, to
a :class:`cardsim.model.simulation.Simulation` built from another scenario: its terminals, service
times, issuer and hub capacities, latencies, outages and rules; queues, waits and utilisation
follow. Loss reports come from the log's blacklist table. The cards are the log's cards
(population settings and seed from the log), and transfers are the logged ones (the model makes
none).

:class:`TraceDemand` is the demand source; it uses only the simulation's public arrival methods.
The new log, if any, is written by :func:`cardsim.log.session.simulate`, as ``cardsim run``'s is.

Rows stream from the log in ``seq`` order; arrivals are put back into arrival order with a heap
that holds at most the log's longest wait's worth of records.
"""

from __future__ import annotations

import copy
import heapq
import sqlite3
from pathlib import Path
from typing import Callable

from cardsim.audit.replay import read_log_scenario
from cardsim.log.container import connect_readonly
from cardsim.config.scenario import Scenario
from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError, one_line
from cardsim.log.session import simulate
from cardsim.log.store import open_log
from cardsim.model.nodes import ONLINE_POINT
from cardsim.model.places import terminal_point
from cardsim.model.simulation import Simulation

#: Population settings taken from the log, so the trace's card numbers mean the same cards.
_POPULATION_KEYS = ("cards", "senior_share", "student_share", "balance_min_fen",
                    "balance_max_fen")
_TRACE_COLUMNS = ("seq, arrival_time, sim_time, channel, service, card_id, terminal_id, "
                  "terminal_province, trip_km")


def combined_scenario(log_sc: Scenario, rules: Scenario, log_scale: float) -> Scenario:
    """``rules``' nodes and capacities with the log's cards, seed, span and scale; the scenario's
    own demand (transfers, loss reports, attacks) is switched off: the trace brings it."""
    cfg = copy.deepcopy(rules.config)
    for p in PROVINCES:
        for k in _POPULATION_KEYS:
            cfg["provinces"][p][k] = log_sc.config["provinces"][p][k]
        cfg["provinces"][p]["lost_per_day"] = 0.0
    cfg["demand"]["transit"]["transfer_share"] = 0.0
    cfg["simulation"]["seed"] = log_sc.seed
    cfg["simulation"]["duration_hours"] = log_sc.config["simulation"]["duration_hours"]
    cfg["simulation"]["start_hour"] = log_sc.config["simulation"]["start_hour"]
    for k in cfg["attacks"]:
        cfg["attacks"][k] = 0
    return Scenario(name=f"{log_sc.name}@{rules.name}", source=rules.source, text=rules.text,
                    config=cfg, seed=log_sc.seed, scale=log_scale, sets=rules.sets)


class TraceDemand:
    """A log's arrivals and loss reports, fed into a simulation at their logged times."""

    def __init__(self, path: str | Path):
        self.path = path

    def start(self, sim: Simulation) -> None:
        sim.env.process(self._feed(sim))

    def _feed(self, sim: Simulation):
        con = connect_readonly(self.path)
        try:
            losses = sorted((t, cid) for cid, t in con.execute(
                "SELECT card_id, reported_at FROM blacklist") if isinstance(t, float))
            window = (con.execute("SELECT max(wait_s) FROM transactions").fetchone()[0] or 0.0) + 1.0
            reports = _LossReports(sim, losses)
            heap: list = []
            for row in con.execute(f"SELECT {_TRACE_COLUMNS} FROM transactions ORDER BY seq"):
                heapq.heappush(heap, (row[1], row[0], row))
                horizon = row[2] - window
                while heap and heap[0][0] <= horizon:
                    yield from self._at(sim, reports, heapq.heappop(heap))
            while heap:
                yield from self._at(sim, reports, heapq.heappop(heap))
        finally:
            con.close()

    def _at(self, sim: Simulation, reports: "_LossReports", item: tuple):
        t, _seq, row = item
        yield from reports.until(t)
        if t > sim.env.now:
            yield sim.env.timeout(t - sim.env.now)
        dispatch(sim, row)


class _LossReports:
    """The log's loss reports, (time, card_id) in time order, reported as the clock reaches them."""

    def __init__(self, sim: Simulation, losses: list[tuple[float, str]]):
        self.sim = sim
        self.losses = losses
        self.next = 0

    def until(self, t: float):
        """SimPy steps: report every loss up to ``t``, each at its own time."""
        env, losses = self.sim.env, self.losses
        while self.next < len(losses) and losses[self.next][0] <= t:
            lt, cid = losses[self.next]
            if lt > env.now:
                yield env.timeout(lt - env.now)
            card = self.sim.card(cid)
            if card is not None:
                self.sim.report_lost(card)
            self.next += 1


def dispatch(sim: Simulation, row: tuple) -> None:
    """Send one logged arrival (``_TRACE_COLUMNS``) into ``sim`` now."""
    _seq, _arr, _t, channel, service, card_id, terminal_id, tprov, km = row
    card = sim.card(card_id)
    if card is None or tprov not in PROVINCES:
        return
    transit = channel == "transit" and service in ("metro", "bus")
    stype = service if transit else ONLINE_POINT.get(channel)
    if stype is None:
        return
    n = sim.point_count(tprov, stype)
    if not n:
        sim.balk(tprov, stype)
        return
    k = min(terminal_point(terminal_id), n - 1)
    if transit:
        sim.arrive_transit(tprov, service, card, point=k, km=km if isinstance(km, float) else None)
    elif card.in_use:
        sim.balk(tprov, stype, k)
    elif not sim.turns_away(tprov, stype, k):
        sim.arrive_online(tprov, channel, card, k, service)


def retime(path: str | Path, rules: Scenario | None = None, out: str | Path | None = None,
           force: bool = False, keys_dir: str | Path = "keys", passphrase: bytes | None = None,
           workers: int = 1, progress: Callable[[float], None] | None = None) -> dict:
    """Run the log's arrivals through ``rules`` (default: the log's own scenario).

    Returns the summary, shaped like ``cardsim run``'s (its ``scale`` is the log's), plus
    ``"trace"``: the log and the rules' scenario name. ``out`` writes the new run's signed log
    with the keys in ``keys_dir`` (encrypted with ``passphrase``), using ``workers`` signers.
    """
    conn = open_log(path)
    try:
        run, log_sc = read_log_scenario(conn, path)
    finally:
        conn.close()
    scale = run.get("scale")
    sc = combined_scenario(log_sc, rules or log_sc,
                           float(scale) if isinstance(scale, (int, float)) else 1.0)
    try:
        summary, _sim = simulate(sc, TraceDemand(path), out=out, force=force, keys_dir=keys_dir,
                                 passphrase=passphrase, workers=workers, progress=progress)
    except sqlite3.Error as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
    summary["trace"] = {"log": str(path), "scenario": (rules or log_sc).name}
    return summary

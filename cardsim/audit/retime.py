"""Trace-driven what-if (``cardsim replay --timing``): yesterday's real demand, tomorrow's capacity.

The logged arrivals (time, card, channel, service point, trip length, government item) are fed
through the simulation clock at their logged arrival times, in place of the scenario's demand, to
a :class:`cardsim.model.simulation.Simulation` built from another scenario: its terminals, service times,
issuer and hub capacities, latencies, outages and rules; queues, waits and utilisation follow.
Loss reports come from the log's blacklist table. The cards are the log's cards (population
settings and seed from the log), and transfers are the logged ones (the model makes none).

Rows stream from the log in ``seq`` order; arrivals are put back into arrival order with a heap
that holds at most the log's longest wait's worth of records.
"""

from __future__ import annotations

import copy
import heapq
import sqlite3
from pathlib import Path

from cardsim.domain import PROVINCES
from cardsim.model.card import CODE_PROVINCE
from cardsim.errors import CardsimError
from cardsim.log.container import connect_readonly
from cardsim.log.store import open_log
from cardsim.records.record import INDEX
from cardsim.config.scenario import Scenario

_POPULATION_KEYS = ("cards", "active_share", "senior_share", "student_share", "balance_min_fen",
                    "balance_max_fen")
_I = INDEX


def _combined(log_sc: Scenario, rules: Scenario) -> Scenario:
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
                    config=cfg, seed=log_sc.seed, sets=rules.sets)


def _terminal_point(terminal_id: str) -> int:
    parts = terminal_id.split("-")
    try:
        return int(parts[2]) - 1
    except (IndexError, ValueError):
        return 0


def trace_process(path: str | Path):
    """The SimPy process function feeding the log's arrivals into a Simulation."""

    def trace(sim):
        con = connect_readonly(path)
        try:
            losses = sorted((t, cid) for cid, t in con.execute(
                "SELECT card_id, reported_at FROM blacklist") if isinstance(t, float))
            window = (con.execute("SELECT max(wait_s) FROM transactions").fetchone()[0] or 0.0) + 1.0
            heap: list = []
            u = sim.streams.rng("trace/choice").random
            cur = con.execute("SELECT seq, arrival_time, sim_time, channel, service, card_id, "
                              "terminal_id, terminal_province, trip_km FROM transactions ORDER BY seq")
            li = 0
            for row in cur:
                heapq.heappush(heap, (row[1], row[0], row))
                horizon = row[2] - window
                while heap and heap[0][0] <= horizon:
                    t, _s, r = heapq.heappop(heap)
                    li = yield from _advance(sim, t, losses, li)
                    _dispatch(sim, r, u)
            while heap:
                t, _s, r = heapq.heappop(heap)
                li = yield from _advance(sim, t, losses, li)
                _dispatch(sim, r, u)
        finally:
            con.close()
    return trace


def _advance(sim, t: float, losses: list, li: int):
    env = sim.env
    while li < len(losses) and losses[li][0] <= t:
        lt, cid = losses[li]
        if lt > env.now:
            yield env.timeout(lt - env.now)
        card = _card(sim, cid)
        if card is not None and card.lost_at is None:
            card.lost_at = env.now
            sim.lost.append((cid, card.province, env.now))
        li += 1
    if t > env.now:
        yield env.timeout(t - env.now)
    return li


def _card(sim, card_id: str):
    prov = CODE_PROVINCE.get(card_id[:2]) if isinstance(card_id, str) else None
    if prov is None or not card_id[2:].isdigit():
        return None
    pop = sim.population[prov]
    serial = int(card_id[2:])
    return pop.get(serial) if serial < pop.active else pop.peek(serial)


def _dispatch(sim, r, u) -> None:
    _seq, _arr, _t, channel, service, card_id, terminal_id, tprov, km = r
    card = _card(sim, card_id)
    if card is None or tprov not in PROVINCES:
        return
    if channel == "transit" and service in ("metro", "bus"):
        sp = sim.points[tprov][service]
        if not sp.banks:
            sp.balked += 1
            return
        k = min(_terminal_point(terminal_id), len(sp.banks) - 1)
        sim._transit_tap(tprov, service, card, sim.env.now, False, u, k=k, km=km)
        return
    stype = "scenic_gate" if channel == "tourism" else "gov_window"
    sp = sim.points[tprov][stype]
    if not sp.banks:
        sp.balked += 1
        return
    k = min(_terminal_point(terminal_id), len(sp.banks) - 1)
    if card.in_use or (sp.patience and sp.banks[k].expected_wait() > sp.patience):
        sp.balked += 1
        return
    sim.env.process(sim._online_customer(sp, k, card, sim.env.now, service))


def replay_timing(path: str | Path, rules: Scenario | None = None, out=None, force: bool = False,
                  keys_dir="keys", workers: int = 1, progress=None) -> dict:
    """Run the log's arrivals through ``rules`` (default: the log's own scenario); the summary has
    the shape of ``cardsim run``'s. ``out`` writes the new run's (signed) log."""
    from cardsim.model.simulation import Simulation
    from cardsim.log.pipeline import LogSink
    from cardsim.audit.replay import read_log_scenario
    conn = open_log(path)
    try:
        _run, log_sc = read_log_scenario(conn, path)
    finally:
        conn.close()
    sc = _combined(log_sc, rules or log_sc)
    sink = None
    if out is not None:
        from cardsim import api
        api.ensure_keys(keys_dir)
        from cardsim.signing.signer import SignSpec
        spec = SignSpec(str(keys_dir), None, api._population_keys(sc), sc.epoch)
        sink = LogSink(out, sc, force=force, spec=spec, workers=workers)
    sim = Simulation(sc, sink=sink, progress=progress)
    try:
        summary = sim.run(trace=trace_process(path))
        if sink is not None:
            sink.finish(summary, sim.wall_seconds, sim.lost, sim.duration, sim.metrics())
            sink = None
    except sqlite3.Error as e:
        raise CardsimError(f"{path}: unreadable log: {e}") from None
    finally:
        if sink is not None:
            sink.abort()
    summary["trace"] = {"log": str(path), "scenario": (rules or log_sc).name}
    return summary

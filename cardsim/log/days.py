"""Logs linked day to day: a log that follows another commits to its final signed tree head, and
its run starts from the state the previous run ended in.

- The new log's genesis (its log id) hashes the SHA-256 of the previous log's final signed tree
  head (``encoding.genesis_hash``'s ``previous``), and the new log stores that head whole in its
  ``predecessor`` table, so ``verify`` can check the head's signature and the link from the new
  log alone, and a series verify can check it is the previous log's final head.
- What carries over, read from the previous log (:func:`carried_state`) and put into the new
  simulation before it runs (:func:`seed_simulation`, the one hook into the model): each card's
  ATC, stored value and senior free-ride quota with the calendar year it counts for and the
  extensions left that year, so a quota resets on 1 January and is not renewed by a new day (the
  previous log's ``card_state`` table, written at the end of every run and signed by the hub;
  ``--after`` holds no keys, so it checks each value, and a series verify the signature); the
  loss reports (with their times moved onto the new day's clock: before its start); and the card
  population itself (the first day's population seed, so a card keeps its holder, category and
  keys from day to day).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cardsim.config.scenario import loads
from cardsim.domain import PROVINCES
from cardsim.errors import CardsimError, one_line
from cardsim.log.store import Log
from cardsim.model.card import CardPopulation, parse_card_id, population_keys
from cardsim.records import encoding as E


@dataclass(frozen=True)
class CarriedState:
    """What a run that follows a log starts from."""

    predecessor: tuple                 # the previous log's final head, a ``predecessor`` row
    population_seed: int               # the seed the card population is derived from
    #: card_id -> (atc, balance_fen, quota_left, quota_year, quota_extensions_left)
    cards: dict = field(default_factory=dict)
    #: loss reports (card_id, province, reported_at) on the new day's clock (all before 0)
    lost: tuple = ()
    #: terminal -> the last upload number it reached (the new log's ``upload_start``)
    uploads: dict = field(default_factory=dict)

    def rows(self) -> list[tuple]:
        """The carried cards as ``card_start`` rows."""
        return [(c, *v) for c, v in sorted(self.cards.items())]

    @property
    def previous(self) -> bytes:
        """What the new log's genesis commits to: SHA-256 of the final head's message."""
        return head_digest(self.predecessor)


def head_digest(row: tuple) -> bytes:
    """SHA-256 of the checkpoint message of a ``predecessor`` row (its signed tree head)."""
    log_id, count, head, root, sim_time, final = row[:6]
    return E.sha256(E.checkpoint_message(log_id, count, head, root, sim_time, final))


def log_id_of(conn: sqlite3.Connection, run: dict) -> bytes:
    """A log's id: its genesis hash, from its runs row and, for a log that follows another, its
    ``predecessor`` row."""
    pred = conn.execute("SELECT * FROM predecessor").fetchone()
    return E.genesis_hash(run["config_json"], run["seed"], head_digest(pred) if pred else None)


def carried_state(path: str | Path, scenario) -> CarriedState:
    """The state a run of ``scenario`` starts from when it follows the complete signed log at
    ``path``; a one-line :class:`CardsimError` when that log cannot be followed."""
    with Log.open(path) as log:
        conn = log._conn
        run = log.run
        if run.get("completed") != 1 or run.get("signed") != 1:
            raise CardsimError(f"--after {path}: not a complete signed log; only such a log can "
                               "be followed")
        try:
            final = conn.execute("SELECT count, head, root, sim_time, final, signer, signature "
                                 "FROM checkpoints WHERE final = 1 ORDER BY checkpoint DESC"
                                 ).fetchone()
            pred = conn.execute("SELECT population_seed FROM predecessor").fetchone()
            cards = _card_states(path, conn.execute("SELECT * FROM card_state"),
                                 log.scenario, scenario)
            lost = conn.execute("SELECT card_id, card_province, reported_at FROM blacklist").fetchall()
            uploads = last_upload_numbers(conn)
            log_id = log_id_of(conn, run)
        except sqlite3.Error as e:
            raise CardsimError(f"--after {path}: unreadable log: {one_line(e)}") from None
        if final is None:
            raise CardsimError(f"--after {path}: the log has no final signed tree head")
        previous_span = _span(log.scenario, scenario)
    seed = pred[0] if pred else run["seed"]
    return CarriedState((log_id, *final, seed), seed, cards,
                        tuple((c, p, t - previous_span) for c, p, t in lost), uploads)


#: What a carried value may be: a counter, a stored value, rides, a year, extensions.
_CARRIED = (("atc", 0, 2**31 - 1), ("balance_fen", 0, 10**12), ("quota_left", 0, 10**9),
            ("quota_year", 1900, 9999), ("quota_extensions_left", 0, 10**9))


def _card_states(path, rows, before, after) -> dict:
    """card_id -> its carried state (:attr:`CarriedState.cards`) from the ``card_state`` rows of
    the log of scenario ``before``, each checked: a card number, whole numbers in range, no more
    extensions left than ``before`` allows a year, and a quota year not after the year the run
    of ``after`` starts in."""
    year = dt.date.fromisoformat(after.config["simulation"]["start_date"]).year
    provinces = before.config["provinces"]
    out = {}
    for card_id, *values in rows:
        parsed = parse_card_id(card_id) if isinstance(card_id, str) else None
        problem = None if parsed else "not a card number"
        if problem is None and len(values) != len(_CARRIED):
            problem = f"expected {len(_CARRIED)} values, got {len(values)}"
        for (name, lo, hi), v in zip(_CARRIED, values):
            if problem is None and (type(v) is not int or not lo <= v <= hi):
                problem = f"{name} {v!r} is not a whole number in [{lo}, {hi}]"
        if problem is None:
            fares = provinces[parsed[0]]["fares"]
            if values[4] > fares["senior_quota_extensions"]:
                problem = (f"quota_extensions_left {values[4]} is more than the "
                           f"{fares['senior_quota_extensions']} a year allows")
            elif values[3] > year:
                problem = f"quota_year {values[3]} is after the run's year {year}"
        if problem is not None:
            raise CardsimError(f"--after {path}: card_state row {card_id!r}: {problem}")
        out[card_id] = tuple(values)
    return out


def last_upload_numbers(conn: sqlite3.Connection) -> dict[str, int]:
    """terminal -> the last upload number it reached by the end of the log (its own uploads, or
    the number it started from when it uploaded nothing)."""
    last = dict(conn.execute("SELECT terminal_id, number FROM upload_start"))
    for tid, n in conn.execute("SELECT terminal_id, max(number) FROM uploads GROUP BY terminal_id"):
        last[tid] = n
    return last


def _span(before, after) -> float:
    """Simulated seconds from the previous run's start to the new run's start: the calendar days
    between them, at least the previous run's length."""
    return float(max(after.epoch - before.epoch, before.duration_s))


def seed_simulation(sim, carried: CarriedState) -> None:
    """Put the carried state into a simulation before it runs (the model's public attributes
    only: its card populations, its cards, its loss reports)."""
    keys = population_keys(carried.population_seed)
    pcfgs = sim.cfg["provinces"]
    sim.population = {p: CardPopulation(p, pcfgs[p], keys[p]) for p in PROVINCES}
    for card_id, state in carried.cards.items():
        card = _active_card(sim, card_id)
        if card is not None:
            _carry(card, state)
    for card_id, province, at in carried.lost:
        card = _active_card(sim, card_id)
        if card is not None and card.lost_at is None:
            card.lost_at = at
        sim.lost.append((card_id, province, at))


def _carry(card, state: tuple) -> None:
    """Put a carried state (:attr:`CarriedState.cards`) into a card."""
    card.atc, card.balance_fen, card.quota_left, card.quota_year, card.ext_left = state


def _active_card(sim, card_id: str):
    parsed = parse_card_id(card_id)
    if parsed is None:
        return None
    pop = sim.population[parsed[0]]
    return pop.get(parsed[1]) if parsed[1] < pop.active else None


def start_replay(conn: sqlite3.Connection, nodes, log_scenario) -> None:
    """Replay of a log that follows another: its cards from the first day's population, those
    carried over in the state the log started from (its ``card_start`` table), loss reports as
    the replay's nodes read them (``nodes.reports``)."""
    pred = conn.execute("SELECT population_seed FROM predecessor").fetchone()
    if pred is None or not isinstance(pred[0], int):
        return
    keys = population_keys(pred[0])
    pcfgs = log_scenario.config["provinces"]
    nodes.pops = {p: CardPopulation(p, pcfgs[p], keys[p]) for p in PROVINCES}
    for card_id, *state in conn.execute("SELECT * FROM card_start"):
        parsed = parse_card_id(card_id) if isinstance(card_id, str) else None
        if parsed is None or not all(type(v) is int for v in state):
            continue
        card = nodes.pops[parsed[0]].peek(parsed[1])
        _carry(card, tuple(state))
        card.lost_at = nodes.reports.get(card_id)
        nodes.cards[card_id] = card


def card_state_rows(sim) -> list[tuple]:
    """Every card the run used (or was seeded with), as ``card_state`` rows: its state now (the
    quota's year written out: a card that took no free ride yet counts for the run's start year)."""
    year = dt.date.fromisoformat(sim.cfg["simulation"]["start_date"]).year
    rows = []
    for p in PROVINCES:
        pop = sim.population[p]
        for serial in sorted(pop.order):          # the cards used, not the issued range
            card = pop.used(serial)
            rows.append((card.card_id, card.atc, card.balance_fen, card.quota_left,
                         card.quota_year or year, card.ext_left))
    return rows


def day_scenario(weekday, weekend, i: int):
    """Day ``i`` (0 first) of a series: ``weekday``'s scenario (``weekend``'s on a Saturday or
    Sunday, when given) on ``weekday``'s start date plus ``i`` days, with its seed plus ``i``."""
    start = dt.date.fromisoformat(weekday.config["simulation"]["start_date"]) + dt.timedelta(days=i)
    base = weekend if weekend is not None and start.weekday() >= 5 else weekday
    sets = tuple(s for s in base.sets if not s.startswith("simulation.start_date="))
    return loads(base.text, source=base.source, name=base.name,
                 sets=sets + (f"simulation.start_date={start.isoformat()}",), scale=base.scale,
                 seed=weekday.seed + i)

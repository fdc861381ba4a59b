"""Verifying a series of daily logs (``cardsim verify day1.db day2.db ...``): each log on its own
(:func:`cardsim.audit.verify.verify`), then each log against the one before it:

- ``link``: the log follows the previous one: its ``predecessor`` row is the previous log's final
  signed tree head, whole (a day missing, swapped or replaced fails here: the new log's id
  commits to that head, and the head to every record of the day before);
- ``population``: the cards are the same cards (the same population seed);
- ``atc``: per card, the first counter of the day is above the last one of the day before (a
  clone used on a later day, or a counter moved back across days, fails here);
- ``card_state``: the log started from the state the day before ended in (its ``card_start`` is
  the previous log's ``card_state``, every card and column: counter, stored value, senior quota,
  its year and extensions left), and per card of the day before, its first record of the day
  continues that state (its counter is above the ``card_state`` counter);
- ``uploads``: the terminals' upload numbers go on from the day before (the log's
  ``upload_start`` is the last number each terminal reached the day before).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cardsim.audit.verify import Report, verify
from cardsim.errors import CardsimError, one_line
from cardsim.log.days import last_upload_numbers, log_id_of
from cardsim.log.store import open_log, read_run

#: Findings listed per pair of logs (counts are complete).
MAX_LINK_FINDINGS = 1000


@dataclass(frozen=True)
class SeriesReport:
    """Every log's own report and the findings between consecutive logs."""

    reports: tuple
    findings: tuple          # dicts: {"log", "previous", "check", "reason"}
    failures: int

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports) and self.failures == 0

    def as_dict(self) -> dict:
        return {"ok": self.ok, "logs": [r.as_dict() for r in self.reports],
                "series": {"failures": self.failures, "findings": list(self.findings)}}


@dataclass(frozen=True)
class _Day:
    path: str
    log_id: bytes
    final: tuple | None          # (log_id, count, head, root, sim_time, final, signer, signature)
    predecessor: tuple | None
    population_seed: int
    first_atc: dict
    last_atc: dict
    card_state: dict             # card_id -> atc at the end
    state_rows: dict             # card_id -> its whole card_state row
    start_rows: dict             # card_id -> its whole card_start row
    upload_start: dict
    upload_last: dict


def _read(path: str | Path) -> _Day:
    conn = open_log(path)
    try:
        run = read_run(conn, path)
        log_id = log_id_of(conn, run)
        final = conn.execute("SELECT count, head, root, sim_time, final, signer, signature FROM "
                             "checkpoints WHERE final = 1 ORDER BY checkpoint DESC").fetchone()
        pred = conn.execute("SELECT * FROM predecessor").fetchone()
        atcs = conn.execute("SELECT card_id, min(atc), max(atc) FROM transactions "
                            "GROUP BY card_id").fetchall()
        state_rows = {r[0]: r for r in conn.execute("SELECT * FROM card_state")}
        start_rows = {r[0]: r for r in conn.execute("SELECT * FROM card_start")}
        upload_start = dict(conn.execute("SELECT terminal_id, number FROM upload_start"))
        upload_last = last_upload_numbers(conn)
    except sqlite3.Error as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
    finally:
        conn.close()
    return _Day(str(path), log_id, (log_id, *final) if final else None, pred,
                pred[-1] if pred else run.get("seed"),
                {c: lo for c, lo, _ in atcs}, {c: hi for c, _, hi in atcs},
                {c: r[1] for c, r in state_rows.items()}, state_rows, start_rows, upload_start,
                upload_last)


def check_pair(prev: _Day, day: _Day) -> list[tuple[str, str]]:
    """(check, reason) for each way ``day`` fails to continue ``prev``."""
    return _link(prev, day) + _carried(prev, day) + _counters(prev, day) + _uploads(prev, day)


def _carried(prev: _Day, day: _Day) -> list[tuple[str, str]]:
    """The log's cards started as the day before ended: ``card_start`` is the previous log's
    ``card_state``, card for card (any column changed, a card added or left out fails)."""
    cards = sorted(set(prev.state_rows) | set(day.start_rows), key=str)
    return [("card_state", f"not_carried:{c}") for c in cards
            if prev.state_rows.get(c) != day.start_rows.get(c)]


def _link(prev: _Day, day: _Day) -> list[tuple[str, str]]:
    out = []
    if day.predecessor is None:
        out.append(("link", "follows_no_log"))
    elif day.predecessor[0] != prev.log_id:
        out.append(("link", "follows_another_log"))
    elif prev.final is None or tuple(day.predecessor[:8]) != prev.final:
        out.append(("link", "not_the_final_head"))
    if day.population_seed != prev.population_seed:
        out.append(("population", "other_cards"))
    return out


def _counters(prev: _Day, day: _Day) -> list[tuple[str, str]]:
    """Per card seen the day before: its first counter of the day is above its last one, and
    above the counter the day before ended with (``card_state``)."""
    out = []
    for card, first in day.first_atc.items():
        if not isinstance(first, int):
            continue                     # a malformed counter: the day's own format finding
        last = prev.last_atc.get(card)
        state = prev.card_state.get(card)
        if isinstance(last, int) and first <= last:
            out.append(("atc", f"not_above_previous_day:{card}"))
        elif isinstance(state, int) and first <= state:
            out.append(("card_state", f"atc_not_above_carried:{card}"))
    return out


def _uploads(prev: _Day, day: _Day) -> list[tuple[str, str]]:
    """Each terminal's upload numbers go on from the last one it reached the day before."""
    return [("uploads", f"numbering_not_continued:{tid}")
            for tid in sorted(set(day.upload_start) | set(prev.upload_last))
            if day.upload_start.get(tid) != prev.upload_last.get(tid)]


def verify_series(paths, keys_dir: str | Path = "keys", workers: int = 1, progress=None,
                  witnesses=()) -> SeriesReport:
    """Verify ``paths`` (two or more logs, oldest first) one by one and as a series."""
    reports: list[Report] = [verify(p, keys_dir, workers, progress, witnesses) for p in paths]
    days = [_read(p) for p in paths]
    findings, failures = [], 0
    for prev, day in zip(days, days[1:]):
        for check, reason in check_pair(prev, day):
            failures += 1
            if len(findings) < MAX_LINK_FINDINGS:
                findings.append({"log": day.path, "previous": prev.path, "check": check,
                                 "reason": reason})
    return SeriesReport(tuple(reports), tuple(findings), failures)

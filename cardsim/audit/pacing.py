"""``replay --speed``: replayed records follow the log's simulated time at a chosen speed, with
every wait bounded however a hostile log's times jump."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

from cardsim.errors import CardsimError

#: Longest a paced replay (``--speed``) may wait in all: the replayed span over the speed.
MAX_PACED_WALL_S = 7 * 86400.0


@dataclass
class Pace:
    """``--speed``: replayed records follow simulated time at ``speed`` times real time.

    A log's times are untrusted: each is clamped into the replayed span ``[lo, hi]`` and a time
    that is not a finite float is not paced, so the waits add up to at most ``(hi - lo) / speed``
    however the times jump (e.g. by 1e12 s). ``clock`` and ``sleep`` are injectable for tests."""

    speed: float
    lo: float
    hi: float
    clock: Callable[[], float] = time.perf_counter
    sleep: Callable[[float], None] = time.sleep
    wall0: float | None = None
    sim0: float = 0.0

    def wait(self, sim_time: object) -> None:
        if type(sim_time) is not float or not math.isfinite(sim_time):
            return
        at = min(max(sim_time, self.lo), self.hi)
        if self.wall0 is None:
            self.wall0, self.sim0 = self.clock(), at
        lag = (at - self.sim0) / self.speed - (self.clock() - self.wall0)
        if lag > 0:
            self.sleep(lag)


def pacer(speed: float | None, duration_s: float, filters,
          clock: Callable[[], float] = time.perf_counter,
          sleep: Callable[[float], None] = time.sleep) -> Pace | None:
    """The pacing of ``--speed`` over the log's span (narrowed by ``filters.time_from`` and
    ``time_to``, i.e. ``--from``/``--to``), or None without it; a speed that is not a positive
    number, or that would make the replay wait more than :data:`MAX_PACED_WALL_S` in all, is
    refused."""
    if speed is None:
        return None
    if not isinstance(speed, (int, float)) or not math.isfinite(speed) or speed <= 0:
        raise CardsimError(f"--speed {speed}: expected a positive number")
    lo = max(0.0, filters.time_from or 0.0)
    hi = max(lo, min(duration_s, duration_s if filters.time_to is None else filters.time_to))
    wall = (hi - lo) / speed
    if wall > MAX_PACED_WALL_S:
        raise CardsimError(f"--speed {speed:g}: pacing {hi - lo:,.0f} simulated seconds would take "
                           f"{wall:,.0f} s; at most {MAX_PACED_WALL_S:,.0f} s (7 days): use a speed "
                           f"of at least {(hi - lo) / MAX_PACED_WALL_S:.3g} or narrow --from/--to")
    return Pace(float(speed), lo, hi, clock, sleep)


#: A paced replay longer than this says so before it starts.
LONG_PACE_S = 60.0


def duration_text(seconds: float) -> str:
    """``3 h 05 min``, ``12 min 30 s``, ``45 s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def warn_long_pace(conn, pace: Pace, filters, notify: Callable[[str], None]) -> None:
    """Before a paced replay that will take more than :data:`LONG_PACE_S`: how long. With
    ``--limit`` alone, the span of the first records replayed; with other filters, the span the
    pacing covers (an upper bound)."""
    span, bound = pace.hi - pace.lo, True
    others = (filters.channel, filters.province, filters.card, filters.time_from, filters.time_to)
    if filters.limit is not None and all(x is None for x in others):
        ends = [conn.execute("SELECT sim_time FROM transactions ORDER BY seq LIMIT 1 OFFSET ?",
                             (k,)).fetchone() for k in (0, max(0, filters.limit - 1))]
        times = [r[0] for r in ends if r is not None and type(r[0]) is float and math.isfinite(r[0])]
        if len(times) == 2:
            first, last = (min(max(t, pace.lo), pace.hi) for t in times)
            span, bound = max(0.0, last - first), False
    wall = span / pace.speed
    if wall > LONG_PACE_S:
        notify(f"--speed {pace.speed:g}: this replay will take {'up to' if bound else 'about'} "
               f"{duration_text(wall)} ({span:,.0f} simulated seconds paced); a higher --speed "
               "or a smaller --limit is quicker")

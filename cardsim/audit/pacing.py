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

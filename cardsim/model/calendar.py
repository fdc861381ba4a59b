"""The simulation's clock: SimPy's environment, with a lean second schedule for the hot path.

Most of a day's events are a card holder reaching a terminal: a plain call at a known time, with
no process to resume and nothing waiting on it. :meth:`Calendar.call_at` schedules such a call
outside SimPy's event queue; :meth:`Calendar.step` runs the calls due before SimPy's next event,
then that event (SimPy's first at equal times), so processes (online transactions, the issuers,
the hub) and calls share one clock and one order. Calls due at the same time run in the order they
were scheduled.

Performance shortcut: a SimPy timeout is an object, a callback list and an entry in one heap
that holds every traveller's next step, over 100,000 at midday, most of them hours ahead: each
pop walks 17 levels of it, in objects scattered over memory. Calls are kept in two tiers instead:
those due in the current window of :data:`WINDOW` seconds in a small heap, later ones appended to
a list per window, which is heaped when its window comes. ``bench/calendar_cost.py`` (a day-like
load, 80,000 waiting): a hop costs 0.45 of a SimPy timeout's (1.0 us against 2.3, the callback
and its random draws included).
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from itertools import count
from typing import Any, Callable

import simpy

#: Width of a window of the calendar (simulated seconds): a few hundred calls a window at the
#: default day's busiest minutes.
WINDOW = 60.0
_INF = float("inf")


class Calendar(simpy.Environment):
    """A SimPy environment that also runs plain calls at given times (see module doc)."""

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        self._near: list[tuple] = []          # heap of (time, seq, fn, arg) before self._edge
        self._edge = (initial_time // WINDOW + 1.0) * WINDOW
        self._far: dict[int, list[tuple]] = {}    # window -> its calls, unordered
        self._windows: list[int] = []         # heap of the windows in _far
        self._seq = count()

    def call_at(self, t: float, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Call ``fn(arg)`` at simulated time ``t`` (now, if ``t`` is in the past)."""
        if t < self._now:
            t = self._now
        entry = (t, next(self._seq), fn, arg)
        if t < self._edge:
            heappush(self._near, entry)
            return
        w = int(t // WINDOW)
        calls = self._far.get(w)
        if calls is None:
            self._far[w] = [entry]
            heappush(self._windows, w)
        else:
            calls.append(entry)

    def _next_call(self) -> float:
        """The time of the next call (infinity when there is none), heaping the next window's
        calls when the current window has none left."""
        near = self._near
        while not near:
            if not self._windows:
                return float("inf")
            w = heappop(self._windows)
            self._near = near = self._far.pop(w)
            heapify(near)
            self._edge = (w + 1) * WINDOW
        return near[0][0]

    def peek(self) -> float:
        """The time of the next call or event (infinity when there is none)."""
        return min(self._next_call(), super().peek())

    def step(self) -> None:
        """Run the calls due before SimPy's next event (all of them, when there is none), then
        process that event (SimPy's first at equal times).

        Performance shortcut: one step runs a whole stretch of calls (a few hundred at a busy
        minute, between two online transactions' events), not one, so the run loop's
        per-step overhead (a method call, SimPy's ``until`` bookkeeping) is paid per stretch."""
        queue = self._queue
        near = self._near
        while True:
            if near:
                t = near[0][0]
            else:
                t = self._next_call()
                near = self._near
            # a call may schedule a SimPy event sooner than the one ahead: read it each time
            if t >= (queue[0][0] if queue else _INF):
                break
            t, _, fn, arg = heappop(near)
            self._now = t
            fn(arg)
        simpy.Environment.step(self)

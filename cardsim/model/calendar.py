"""The simulation's clock: SimPy's environment, with a lean second schedule for the hot path.

Most of a day's events are a card holder reaching a terminal: a plain call at a known time, with
no process to resume and nothing waiting on it. :meth:`Calendar.call_at` schedules such a call
outside SimPy's event queue; :meth:`Calendar.step` runs the calls due before SimPy's next event,
then that event (SimPy's first at equal times), so processes (online transactions, the issuers,
the hub) and calls share one clock and one order. Calls due at the same time run in the order they
were scheduled.

Performance shortcut: a SimPy timeout is an object, a callback list and an entry in one heap
that holds every traveller's next step, over 100,000 at midday, most of them hours ahead. Calls
are kept in buckets of :data:`WIDTH` simulated seconds instead (a calendar queue): scheduling a
call appends it to its bucket's list, with no comparison; a bucket is sorted by time once, when
its turn comes (a stable sort: equal times stay in the order scheduled), and a call due in the
current bucket is put in its place there. A heap of tuples compared its entries some twenty
times each on the way in and out, in objects scattered over a large heap of memory: popping was a
tenth of a run at scale 1 (``docs/performance.md``).
"""

from __future__ import annotations

from bisect import insort
from heapq import heappop, heappush
from operator import itemgetter
from typing import Any, Callable

import simpy

#: Width of a bucket of the calendar (simulated seconds): about ten calls a bucket at the default
#: day's busiest minutes.
WIDTH = 1.0
_INF = float("inf")
_TIME = itemgetter(0)


class Calendar(simpy.Environment):
    """A SimPy environment that also runs plain calls at given times (see module doc).

    Every call due before the end of bucket ``_b`` is in ``_cur`` from ``_pos`` on, in time
    order; every later one is in ``_later``, by bucket."""

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        self._cur: list[tuple] = []           # (t, fn, arg) of the current bucket, in order
        self._pos = 0                         # the next of them
        self._b = int(initial_time // WIDTH)  # the current bucket
        self._later: dict[int, list[tuple]] = {}   # bucket -> its calls, in the order scheduled
        self._buckets: list[int] = []         # heap of the buckets in _later

    def call_at(self, t: float, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Call ``fn(arg)`` at simulated time ``t`` (now, if ``t`` is in the past)."""
        if t < self._now:
            t = self._now
        b = int(t // WIDTH)
        if b <= self._b:
            cur = self._cur
            if not cur or t >= cur[-1][0]:
                cur.append((t, fn, arg))      # after every call due, equal times included
            else:
                insort(cur, (t, fn, arg), lo=self._pos, key=_TIME)
            return
        calls = self._later.get(b)
        if calls is None:
            self._later[b] = [(t, fn, arg)]
            heappush(self._buckets, b)
        else:
            calls.append((t, fn, arg))

    def _next_call(self) -> float:
        """The time of the next call (infinity when there is none), opening the next bucket
        when the current one has none left."""
        while self._pos >= len(self._cur):
            if not self._buckets:
                return _INF
            b = heappop(self._buckets)
            calls = self._later.pop(b)
            calls.sort(key=_TIME)             # stable: equal times in the order scheduled
            self._cur, self._pos, self._b = calls, 0, b
        return self._cur[self._pos][0]

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
        while True:
            cur, pos = self._cur, self._pos
            if pos < len(cur):
                t = cur[pos][0]
            else:
                t = self._next_call()
                cur, pos = self._cur, self._pos
            # a call may schedule a SimPy event sooner than the one ahead: read it each time
            if t >= (queue[0][0] if queue else _INF):
                break
            _, fn, arg = cur[pos]
            self._pos = pos + 1
            self._now = t
            fn(arg)
        simpy.Environment.step(self)

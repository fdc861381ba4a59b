"""Service points: a group of identical terminals sharing one first-come-first-served queue.

Two implementations of the same queue:

- :class:`GateBank` for offline terminals (metro gates, bus validators). Performance shortcut: a
  FCFS multi-server queue needs no events of its own. Keeping the terminals' next free times in a
  heap, a customer arriving at ``t`` starts at ``max(t, earliest free time)`` on that terminal
  (the Lindley recursion generalised to c servers), which is exact as long as customers are
  admitted in arrival order, as the event loop guarantees. It saves three SimPy events per tap on
  the busiest path; ``tests/test_service_point.py`` checks it against a SimPy ``Resource`` queue.
- :class:`WindowBank` for online terminals (scenic gates, government windows), whose service time
  depends on the authorisation round trip, so the terminal is held by a SimPy process.

Both keep busy time clipped to the measured span [warm-up, end] for utilisation.
"""

from __future__ import annotations

import numpy as np
import simpy
from numba import njit

from cardsim.model.stats import HourIntegral


class _Busy:
    """Busy time, clipped to the measured span [lo, hi] (for utilisation), and per hour (for
    utilisation over time, warm-up included)."""

    __slots__ = ("busy", "lo", "hi", "hourly")

    def __init__(self, lo: float, hi: float):
        self.busy = 0.0
        self.lo = lo
        self.hi = hi
        self.hourly = HourIntegral(int(hi // 3600.0) + 1 if hi != float("inf") else 24)

    def add(self, start: float, end: float) -> None:
        a = start if start > self.lo else self.lo
        b = end if end < self.hi else self.hi
        if b > a:
            self.busy += b - a
        self.hourly.add(start, end)


@njit(cache=True)
def _admit(free, now, service, patience):  # pragma: no cover - compiled (tested through GateBank)
    """Start of service of a customer arriving at ``now`` (-1 when they would wait longer than
    ``patience`` > 0), booking the earliest free terminal of ``free`` (its next free time)."""
    k = 0
    m = free[0]
    for q in range(1, free.shape[0]):
        if free[q] < m:
            m = free[q]
            k = q
    start = m if m > now else now
    if patience > 0.0 and start - now > patience:
        return -1.0
    free[k] = start + service
    return start


@njit(cache=True)
def _absorb(free, ts, ss, j, until, sums, lo, hi):  # pragma: no cover - compiled
    """Admit customers ``ts[j:]`` (arrival times, in order; ``ss`` their service times) arriving
    at or before ``until``; returns (the next j, busy seconds inside [lo, hi)). Busy time is also
    booked per hour in ``sums``, to the hour service starts in."""
    n = ts.shape[0]
    c = free.shape[0]
    last = sums.shape[0] - 1
    busy = 0.0
    while j < n:
        t = ts[j]
        if t > until:
            break
        k = 0
        m = free[0]
        for q in range(1, c):
            if free[q] < m:
                m = free[q]
                k = q
        st = m if m > t else t
        s = ss[j]
        free[k] = st + s
        if lo <= st < hi:
            busy += s
        h = int(st // 3600.0)
        sums[h if h < last else last] += s
        j += 1
    return j, busy


class GateBank(_Busy):
    """``count`` terminals with one FCFS queue, solved without events (see module doc), shared with
    the other payers of ``background`` (:mod:`cardsim.model.background`), if any.

    Performance shortcut: the queue's state is a numpy array of the terminals' next free times,
    updated by two compiled kernels (numba): :func:`_admit` for a card holder and :func:`_absorb`
    for the other payers, of whom there are some thirty per card tap (a pure Python heap took
    0.7 us a passenger, the kernel about 0.03 us).
    """

    __slots__ = ("count", "_free", "_next", "background", "background_busy", "_bg_hourly")

    def __init__(self, count: int, lo: float = 0.0, hi: float = float("inf"), background=None):
        super().__init__(lo, hi)
        self.count = count
        self._free = np.zeros(count)    # the terminals' next free times (they are identical)
        self._next = 0                  # the terminal the next customer is logged at (in turn)
        self.background = background
        self.background_busy = 0.0
        self._bg_hourly = np.zeros(len(self.hourly.sums))

    def admit(self, now: float, service_time: float, patience: float = 0.0) -> tuple[float, int]:
        """Admit a customer arriving at ``now``; returns (start of service, terminal index).

        Other payers who arrived before ``now`` are admitted first. With ``patience`` > 0, a
        customer whose wait would exceed it balks: returns (-1.0, -1) and the terminals stay as
        they were. Terminals are identical, so which one serves whom changes no outcome: the
        terminal a record names is taken in turn.
        """
        bg = self.background
        if bg is not None and bg.next_t <= now:
            self.absorb(now)
        start = _admit(self._free, now, service_time, patience)
        if start < 0.0:
            return -1.0, -1
        self.add(start, start + service_time)
        i = self._next
        self._next = i + 1 if i + 1 < self.count else 0
        return start, i

    def absorb(self, until: float) -> None:
        """Admit every other payer arriving at or before ``until``."""
        bg = self.background
        while bg.next_t <= until:
            j, busy = _absorb(self._free, bg.ts, bg.ss, bg.j, until, self._bg_hourly, self.lo, self.hi)
            self.busy += busy
            self.background_busy += busy
            if j < len(bg.ts):
                bg.j, bg.next_t = j, float(bg.ts[j])
                return
            bg.refill()

    def finish(self, end: float, unit: tuple | None = None) -> None:
        """At the end of a run: admit the other payers still due, and book their hourly busy
        time. At a point no card holder used, nothing was queued and no wait was logged: the
        other payers' load is booked at its expected value instead of drawn (performance
        shortcut: most bus stops of a city see no card holder on a small run)."""
        bg = self.background
        if bg is None:
            return
        if bg.started:
            self.absorb(end)
            self._fold()
            return
        if unit is not None:      # the type's load shape, worked out once: scaled to this point's
            k = float(bg.rates.sum()) / unit[2]
            busy, hourly = unit[0] * k, [v * k for v in unit[1]]
        else:
            busy, hourly = bg.expected_busy(self.lo, self.hi, len(self.hourly.sums) - 1)
        self.busy += busy
        self.background_busy += busy
        for h, v in enumerate(hourly):
            self.hourly.sums[h] += v

    def _fold(self) -> None:
        """Add the other payers' hourly busy time into ``hourly``."""
        sums = self.hourly.sums
        for h, v in enumerate(self._bg_hourly.tolist()):
            sums[h] += v
        self._bg_hourly[:] = 0.0


class WindowBank(_Busy):
    """``count`` terminals held by SimPy processes for the length of an online transaction."""

    __slots__ = ("count", "resource", "_idle", "mean_service_time")

    def __init__(self, env: simpy.Environment, count: int, lo: float = 0.0, hi: float = float("inf"),
                 mean_service_time: float = 0.0):
        super().__init__(lo, hi)
        self.count = count
        self.mean_service_time = mean_service_time
        self.resource = simpy.Resource(env, capacity=count)
        self._idle = list(range(count - 1, -1, -1))  # terminal indices; lowest first

    def expected_wait(self) -> float:
        """What a customer arriving now can estimate: the people ahead over the terminals, times
        the mean service time (0 when a terminal is free)."""
        res = self.resource
        if res.count < self.count:
            return 0.0
        return (len(res.queue) + 1) * self.mean_service_time / self.count

    def take(self) -> int:
        """A free terminal's index; call once the resource request has been granted."""
        return self._idle.pop()

    def give_back(self, index: int) -> None:
        self._idle.append(index)
        self._idle.sort(reverse=True)

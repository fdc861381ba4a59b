"""Service points: a group of identical terminals sharing one first-come-first-served queue.

Two implementations of the same queue:

- :class:`GateBank` for offline terminals (metro gates, bus validators). Performance shortcut: a
  FCFS multi-server queue needs no events of its own. Keeping each terminal's next free time in a
  heap, a customer arriving at ``t`` starts at ``max(t, earliest free time)`` on that terminal
  (the Lindley recursion generalised to c servers), which is exact as long as customers are
  admitted in arrival order, as the event loop guarantees. It saves three SimPy events per tap on
  the busiest path; ``tests/test_service_point.py`` checks it against a SimPy ``Resource`` queue.
- :class:`WindowBank` for online terminals (scenic gates, government windows), whose service time
  depends on the authorisation round trip, so the terminal is held by a SimPy process.

Both keep busy time clipped to the measured span [warm-up, end] for utilisation.
"""

from __future__ import annotations

from heapq import heapreplace

import simpy

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


class GateBank(_Busy):
    """``count`` terminals with one FCFS queue, solved without events (see module doc)."""

    __slots__ = ("count", "_free")

    def __init__(self, count: int, lo: float = 0.0, hi: float = float("inf")):
        super().__init__(lo, hi)
        self.count = count
        self._free = [(0.0, i) for i in range(count)]  # heap of (time the terminal frees, index)

    def admit(self, now: float, service_time: float, patience: float = 0.0) -> tuple[float, int]:
        """Admit a customer arriving at ``now``; returns (start of service, terminal index).

        With ``patience`` > 0, a customer whose wait would exceed it balks: returns (-1.0, -1)
        and the terminals stay as they were.
        """
        free_at, i = self._free[0]
        start = free_at if free_at > now else now
        if patience and start - now > patience:
            return -1.0, -1
        heapreplace(self._free, (start + service_time, i))
        self.add(start, start + service_time)
        return start, i


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

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

import math

import numpy as np
import simpy

from cardsim.model.kernels import (
    BG_BUSY, BUSY, COUNT, FREE, HI, HORIZON, KIND, LO, NEXT, PA, PB, SKEY, SKIPPED, STARTED, U_SIZE,
    absorb, gate,
)
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


_NO_RATES = np.zeros(96)


class GateBank:
    """``count`` terminals with one FCFS queue, solved without events (see module doc), shared with
    the other payers of ``background`` (:mod:`cardsim.model.background`), if any. ``service``
    (a distribution) and ``service_key`` (a stream key) are where :meth:`admit` draws a card
    holder's service time when it is not given.

    Performance shortcut: the queue's state (the terminals' next free times, the other payers
    still to come) is two numpy vectors updated by one compiled kernel (numba) per card holder,
    which also serves the other payers before them, some thirty per card tap (a pure Python heap
    took 0.7 us a passenger, the kernel about 0.1 us). Busy time is kept in the vectors:
    :attr:`busy` is live, ``hourly`` is complete once :meth:`finish` has folded it in.
    """

    __slots__ = ("count", "lo", "hi", "f", "u", "buf", "rates", "sums", "hourly", "background",
                 "draws")

    def __init__(self, count: int, lo: float = 0.0, hi: float = float("inf"), background=None,
                 service=None, service_key: int = 0):
        self.count, self.lo, self.hi = count, lo, hi
        hours = int(hi // 3600.0) + 1 if hi != float("inf") else 24
        self.hourly = HourIntegral(hours)
        self.sums = np.zeros(hours + 1)
        self.f = f = np.zeros(FREE + count)
        self.u = u = np.zeros(U_SIZE, dtype=np.uint64)
        f[NEXT], f[LO], f[HI], f[HORIZON] = math.inf, lo, hi, math.inf
        self.background = background
        self.rates = _NO_RATES
        # the pending other payers: small at first (most bus stops never start), doubled when
        # a wave does not fit (it is then drawn again, the same: kernels.draw_wave)
        self.buf = np.zeros((2, 16))
        if background is not None:
            if service is not None and service != background.rates.service:
                raise ValueError("a gate bank's card holders and other payers share one "
                                 "service-time distribution")
            background.fill(f, u)
            self.rates = background.rates.per_slot
            service = background.rates.service
        self.draws = service is not None     # admit() may draw service times
        if background is None and service is not None:
            f[KIND], f[PA], f[PB] = service.params
        u[SKEY] = service_key

    @property
    def busy(self) -> float:
        """Busy terminal-seconds inside [lo, hi] (card holders and other payers)."""
        return float(self.f[BUSY])

    @property
    def background_busy(self) -> float:
        """The other payers' part of :attr:`busy`."""
        return float(self.f[BG_BUSY])

    @property
    def started(self) -> bool:
        """True once a card holder came (the other payers were drawn up to then)."""
        return bool(self.u[STARTED])

    def admit(self, now: float, service_time: float | None = None,
              patience: float = 0.0) -> tuple[float, int]:
        """Admit a customer arriving at ``now``; returns (start of service, terminal index).

        Other payers who arrived before ``now`` are admitted first. ``service_time`` None: drawn
        from the bank's service stream. With ``patience`` > 0, a customer whose wait would
        exceed it balks: returns (-1.0, -1) and the terminals stay as they were. Terminals are
        identical, so which one serves whom changes no outcome: the terminal a record names is
        taken in turn.
        """
        if service_time is None:
            if not self.draws:
                raise ValueError("this gate bank has no service-time distribution to draw from")
            service_time = -1.0
        start, i = gate(self.f, self.u, self.buf, self.rates, self.sums, now, service_time, patience)
        while start == -2.0:           # a wave did not fit: grow, draw it again (rare)
            self._grow()
            start, i = gate(self.f, self.u, self.buf, self.rates, self.sums, now, service_time,
                            patience)
        return start, i

    def _grow(self) -> None:
        buf = np.zeros((2, 2 * self.buf.shape[1]))
        buf[:, :self.buf.shape[1]] = self.buf
        self.buf = buf

    def other_payers(self) -> int:
        """Other payers drawn, or (never started: no card holder came) expected, over the run."""
        if self.background is None:
            return 0
        if not self.started:
            return self.background.expected_passengers()
        return int(self.u[COUNT]) + round(float(self.f[SKIPPED]))

    def finish(self, end: float) -> None:
        """At the end of a run: admit the other payers still due and fold the busy time into
        ``hourly``. At a point no card holder used, nothing was queued and no wait was logged:
        the other payers' load is booked at its expected value instead of drawn (performance
        shortcut: most bus stops of a city see no card holder on a small run)."""
        bg = self.background
        if bg is not None and not self.started:
            busy, hourly = bg.expected_busy(self.lo, self.hi, len(self.hourly.sums) - 1)
            self.f[BUSY] += busy
            self.f[BG_BUSY] += busy
            self.sums += hourly
        elif bg is not None:
            # after the last card holder, no wait depends on the queue: skip what may be skipped
            horizon = -math.inf if self.f[HORIZON] < math.inf else math.inf
            while not absorb(self.f, self.u, self.buf, self.rates, self.sums, end, horizon):
                self._grow()
        sums = self.hourly.sums
        for h, v in enumerate(self.sums.tolist()):
            sums[h] += v
        self.sums[:] = 0.0


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

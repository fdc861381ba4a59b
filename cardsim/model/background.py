"""Other payers at a gate bank: passengers who pay by QR code or another card, queue at the same
gates as card holders, and are not logged.

Gates are shared: a station's exit gates see every alighting passenger, not only those paying
with the social-security card, so a card holder's wait depends on everyone's load. A
:class:`Background` draws those passengers for one bank, slot by 15-minute slot, from the point's
expected journeys (all payers) less the card's share:

- with a headway, in *waves*: a train (metro) or a bus reaches the point every ``headway_s``
  seconds from a fixed phase; each wave brings a Poisson number of passengers with the slot's
  rate, who reach the terminals spread uniformly over ``wave_spread_s``;
- without one, one by one (a Poisson process within each slot).

Card holders reach the same point in the same waves (:func:`wave_after`), so their waits are
those of the crowd. Performance shortcut: background passengers are admitted straight into the
gate bank's queue (:meth:`cardsim.model.service_point.GateBank.absorb`), with no SimPy event, in
blocks drawn by numpy.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from cardsim.model.distributions import Distribution
from cardsim.model.streams import mix64


def phase_of(name: str, headway: float) -> float:
    """A point's wave phase in [0, headway): fixed by its name, so it is the same in every run."""
    h = mix64(int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "big") ^ len(name))
    return (h % 1_000_000) / 1_000_000.0 * headway if headway > 0 else 0.0


def wave_after(t: float, headway: float, phase: float) -> float:
    """The first wave at or after ``t`` (``t`` itself without a headway)."""
    if headway <= 0:
        return t
    return phase + math.ceil((t - phase) / headway - 1e-12) * headway


#: Passengers are drawn in chunks of at least an hour, long enough to hold about CHUNK_PASSENGERS
#: (one numpy pass a chunk: drawn per 15-minute slot they cost 70 us a slot, seconds a day over a
#: thousand quiet bus stops), and short enough that the busiest station's chunk stays small.
CHUNK_S = 3600.0
CHUNK_PASSENGERS = 500


class Background:
    """The other payers of one gate bank, drawn one 15-minute slot at a time (see module doc).

    ``rates`` are arrivals per second for each 15-minute clock slot (96), read at each wave's
    (or slot's) time; ``start_s`` is the clock second at simulated time 0; arrivals stop at
    ``end``.
    """

    __slots__ = ("rng", "make_rng", "rates", "headway", "phase", "spread", "service", "start_s",
                 "end", "slot_t", "carry", "ts", "ss", "j", "next_t", "count", "chunk")

    def __init__(self, make_rng: Callable[[], np.random.Generator], rates: np.ndarray,
                 headway: float, phase: float, spread: float, service: Distribution,
                 start_s: float, end: float):
        # the generator is made on first use: most of 20,000 bus stops never see a card holder
        self.rng, self.make_rng = None, make_rng
        self.rates, self.service = rates, service
        self.headway, self.phase, self.spread = headway, phase, spread
        self.start_s, self.end = start_s, end
        mean = float(rates.sum()) / len(rates)
        self.chunk = min(86400.0, max(CHUNK_S, 900.0 * math.ceil(CHUNK_PASSENGERS / max(mean, 1e-9) / 900.0)))
        self.slot_t = 0.0                      # simulated start of the next slot to draw
        self.carry = np.empty(0)               # a wave's arrivals spilling into the next slot
        self.ts = np.empty(0)
        self.ss = np.empty(0)
        self.j = 0
        self.count = 0                         # passengers drawn so far
        self.next_t = 0.0                      # draw the first chunk when first asked

    @property
    def started(self) -> bool:
        return self.rng is not None

    def passengers(self) -> int:
        """Passengers drawn, or (never started: no card holder came) expected, over the run."""
        if self.started:
            return self.count
        t = np.arange(0.0, self.end, 900.0)
        return round(float((self.rates[self._slots(t)] * np.minimum(900.0, self.end - t)).sum()))

    def expected_busy(self, lo: float, hi: float, hours: int) -> tuple[float, list[float]]:
        """(busy terminal-seconds in [lo, hi), per hour) that these passengers bring on average:
        the load of a point no card holder used, where no queue needs simulating."""
        t = np.arange(0.0, self.end, 900.0)
        load = self.rates[self._slots(t)] * self.service.mean * np.minimum(900.0, self.end - t)
        per_hour = np.bincount(np.minimum(t // 3600.0, hours).astype(np.int64), load, hours + 1)
        return float(load[(t >= lo) & (t < hi)].sum()), per_hour.tolist()

    def _arrivals(self, t0: float, t1: float) -> np.ndarray:
        """Arrival times of the passengers whose wave (or own arrival) falls in [t0, t1), drawn
        in one vectorised pass (a chunk of slots: one numpy call per chunk, not per wave)."""
        rng = self.rng
        if self.headway <= 0:
            starts = np.arange(t0, t1, 900.0)
            counts = rng.poisson(self.rates[self._slots(starts)] * 900.0)
            return np.repeat(starts, counts) + rng.uniform(0.0, 900.0, int(counts.sum()))
        waves = np.arange(wave_after(t0, self.headway, self.phase), t1, self.headway)
        sizes = rng.poisson(self.rates[self._slots(waves)] * self.headway)
        return np.repeat(waves, sizes) + rng.uniform(0.0, self.spread, int(sizes.sum()))

    def _slots(self, t: np.ndarray) -> np.ndarray:
        return (((self.start_s + t) % 86400.0) // 900.0).astype(np.int64)

    def refill(self) -> bool:
        """Draw the next hour with anyone in it; False once past the end."""
        if self.rng is None:
            self.rng = self.make_rng()
        while self.slot_t < self.end:
            t0 = self.slot_t
            self.slot_t = t1 = t0 + self.chunk
            arr = np.sort(np.concatenate((self.carry, self._arrivals(t0, t1))))
            arr = arr[arr < self.end]
            cut = int(np.searchsorted(arr, t1))
            self.carry, arr = arr[cut:], arr[:cut]
            if len(arr):
                self.ts = arr
                self.ss = self.service.sample(self.rng, len(arr))
                self.j = 0
                self.count += len(arr)
                self.next_t = float(arr[0])
                return True
        self.ts, self.ss, self.j, self.next_t = np.empty(0), np.empty(0), 0, math.inf
        return False

"""Other payers at a gate bank: passengers who pay by QR code or another card, queue at the same
gates as card holders, and are not logged.

Gates are shared: a station's exit gates see every alighting passenger, not only those paying
with the social-security card, so a card holder's wait depends on everyone's load. A
:class:`Background` describes those passengers for one bank, from the point's expected journeys
(all payers) less the card's share, at the rate of each 15-minute clock slot (:class:`Rates`,
one per point type):

- with a headway, in *waves*: a train (metro) or a bus reaches the point every ``headway_s``
  seconds from a fixed phase; each wave brings a Poisson number of passengers with the slot's
  rate, who reach the terminals spread uniformly over ``wave_spread_s``;
- without one, one by one (a Poisson process, its rate changing at slot boundaries).

Card holders reach the same point in the same waves (:func:`wave_after`), so their waits are
those of the crowd.

Performance shortcut: the passengers are drawn by compiled code (numba) as the queue reaches
them (``draw_wave``, ``draw_arrival`` in :mod:`cardsim.model.kernels`, called by
:class:`cardsim.model.service_point.GateBank`), from a counter-based stream of the point's own:
no SimPy event, no numpy generator and no array per chunk. Each wave's draws are a function of
(the point's key, the wave's number) alone. This module describes them (:class:`Rates`,
:class:`Background`) and writes that description into the kernels' state (:meth:`Background.fill`).
"""

from __future__ import annotations

import math

import numpy as np

from cardsim.model.distributions import Distribution
from cardsim.model.kernels import (
    END, HEADWAY, HORIZON, KEY, KIND, MEAN_S, NEXT, PA, PB, PHASE, SCALE, SPREAD, SQ_S,
    START_S, TAIL_P, TAIL_S,
)
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


class Rates:
    """The other payers' arrival rates of one point type, shared by its points: ``per_slot`` are
    arrivals per second for each 15-minute clock slot (96); ``start_s`` is the clock second at
    simulated time 0; arrivals stop at ``end``. The expected load is worked out once per type
    (21,000 bus stops share it) and scaled per point."""

    __slots__ = ("per_slot", "start_s", "end", "service", "params", "moment2", "tail", "active",
                 "_n", "_busy")

    def __init__(self, per_slot: np.ndarray, start_s: float, end: float, service: Distribution):
        self.per_slot, self.start_s, self.end, self.service = per_slot, start_s, end, service
        # worked out once for the type's thousands of banks (Background.fill, GateBank)
        self.params = service.params          # the kernels' (kind, a, b) of the service time
        self.moment2 = service.second_moment
        self.tail = service.quantile(1.0 - TAIL_P)   # one long service (kernels._skippable)
        self.active = bool(per_slot.any())    # any other payers at all
        self._n: float | None = None
        self._busy: dict = {}        # (lo, hi, hours) -> expected_busy

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(0.0, self.end, 900.0)
        return t, self.per_slot[_slots(self.start_s, t)] * np.minimum(900.0, self.end - t)

    def expected_passengers(self) -> float:
        """Passengers expected over the run at scale 1."""
        if self._n is None:
            self._n = float(self._load()[1].sum())
        return self._n

    def expected_busy(self, lo: float, hi: float, hours: int) -> tuple[float, np.ndarray]:
        """(busy terminal-seconds in [lo, hi), per hour) at scale 1."""
        key = (lo, hi, hours)
        if key not in self._busy:
            t, n = self._load()
            load = n * self.service.mean
            per_hour = np.bincount(np.minimum(t // 3600.0, hours).astype(np.int64), load, hours + 1)
            self._busy[key] = (float(load[(t >= lo) & (t < hi)].sum()), per_hour)
        return self._busy[key]


class Background:
    """The other payers of one gate bank (see module doc): ``scale`` times the type's ``rates``;
    ``key`` is the point's stream (:func:`cardsim.model.streams.derive`)."""

    __slots__ = ("rates", "scale", "headway", "phase", "spread", "key", "horizon")

    def __init__(self, rates: Rates, scale: float, headway: float, phase: float, spread: float,
                 key: int, horizon: float = math.inf):
        self.rates, self.scale, self.key = rates, scale, key
        self.headway, self.phase, self.spread = headway, phase, spread
        self.horizon = horizon

    def expected_passengers(self) -> int:
        """Passengers expected over the run (at a point no card holder used: none were drawn)."""
        return round(self.rates.expected_passengers() * self.scale)

    def expected_busy(self, lo: float, hi: float, hours: int) -> tuple[float, np.ndarray]:
        """(busy terminal-seconds in [lo, hi), per hour) that these passengers bring on average:
        the load of a point no card holder used, where no queue needs simulating."""
        busy, per_hour = self.rates.expected_busy(lo, hi, hours)
        return busy * self.scale, per_hour * self.scale

    def fill(self, f: np.ndarray, u: np.ndarray) -> None:
        """Write the parameters into a gate bank's state vectors (laid out in
        :mod:`cardsim.model.kernels`)."""
        r = self.rates
        f[NEXT] = wave_after(0.0, self.headway, self.phase) if self.headway > 0 else 0.0
        f[SCALE], f[HEADWAY], f[PHASE], f[SPREAD] = self.scale, self.headway, self.phase, self.spread
        f[START_S], f[END] = r.start_s, r.end
        f[KIND], f[PA], f[PB] = r.params
        f[MEAN_S], f[SQ_S], f[TAIL_S] = r.service.mean, r.moment2, r.tail
        f[HORIZON] = self.horizon
        u[KEY] = self.key


def _slots(start_s: float, t: np.ndarray) -> np.ndarray:
    return (((start_s + t) % 86400.0) // 900.0).astype(np.int64)

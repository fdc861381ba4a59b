"""Other payers at a gate bank: passengers who pay by QR code or another card, queue at the same
gates as card holders, and are not logged.

Gates are shared: a station's exit gates see every alighting passenger, not only those paying
with the social-security card, so a card holder's wait depends on everyone's load. A
:class:`Background` describes those passengers for one bank, from the point's expected journeys
(all payers) less the card's share, at the rate of each 15-minute clock slot:

- with a headway, in *waves*: a train (metro) or a bus reaches the point every ``headway_s``
  seconds from a fixed phase; each wave brings a Poisson number of passengers with the slot's
  rate, who reach the terminals spread uniformly over ``wave_spread_s``;
- without one, one by one (a Poisson process, its rate changing at slot boundaries).

Card holders reach the same point in the same waves (:func:`wave_after`), so their waits are
those of the crowd.

Performance shortcut: the passengers are drawn by compiled code (numba) as the queue reaches
them (:func:`draw_wave`, :func:`draw_arrival`, called by
:class:`cardsim.model.service_point.GateBank`), from a counter-based stream of the point's own
(:mod:`cardsim.model.variates`): no SimPy event, no numpy generator and no array per chunk. Each
wave's draws are a function of (the point's key, the wave's number) alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cardsim.model import variates
from cardsim.model.distributions import Distribution
from cardsim.model.streams import mix64

# The state vector of a gate bank (float64; ``GateBank.f``), this module's part and the queue's:
NEXT = 0        # the next wave's time (with a headway) or the next passenger's arrival (without)
NEXT_S = 1      # without a headway: that passenger's service time
SCALE = 2       # arrivals per second = rates[slot] * SCALE
HEADWAY, PHASE, SPREAD, START_S, END = 3, 4, 5, 6, 7
KIND, PA, PB = 8, 9, 10          # the service-time distribution (variates.variate)
LO, HI, BUSY, BG_BUSY = 11, 12, 13, 14   # the queue's: measured span, busy terminal-seconds in it
FREE = 16       # f[FREE:]: the terminals' next free times
# ... and its counters (uint64; ``GateBank.u``)
KEY, WAVE, COUNT, HEAD, TAIL, STARTED, SKEY, SN = 0, 1, 2, 3, 4, 5, 6, 7
U_SIZE = 8


def phase_of(name: str, headway: float) -> float:
    """A point's wave phase in [0, headway): fixed by its name, so it is the same in every run."""
    h = mix64(int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "big") ^ len(name))
    return (h % 1_000_000) / 1_000_000.0 * headway if headway > 0 else 0.0


def wave_after(t: float, headway: float, phase: float) -> float:
    """The first wave at or after ``t`` (``t`` itself without a headway)."""
    if headway <= 0:
        return t
    return phase + math.ceil((t - phase) / headway - 1e-12) * headway


class Background:
    """The other payers of one gate bank (see module doc): ``rates`` are the type's arrivals per
    second for each 15-minute clock slot (96, shared by its points), ``scale`` this point's part
    of them; ``start_s`` is the clock second at simulated time 0; arrivals stop at ``end``;
    ``key`` is the point's stream (:meth:`cardsim.model.streams.Streams.key`)."""

    __slots__ = ("rates", "scale", "headway", "phase", "spread", "service", "start_s", "end", "key")

    def __init__(self, rates: np.ndarray, scale: float, headway: float, phase: float,
                 spread: float, service: Distribution, start_s: float, end: float, key: int):
        self.rates, self.scale, self.service = rates, scale, service
        self.headway, self.phase, self.spread = headway, phase, spread
        self.start_s, self.end, self.key = start_s, end, key

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(0.0, self.end, 900.0)
        return t, self.rates[_slots(self.start_s, t)] * self.scale * np.minimum(900.0, self.end - t)

    def expected_passengers(self) -> int:
        """Passengers expected over the run (at a point no card holder used: none were drawn)."""
        return round(float(self._load()[1].sum()))

    def expected_busy(self, lo: float, hi: float, hours: int) -> tuple[float, list[float]]:
        """(busy terminal-seconds in [lo, hi), per hour) that these passengers bring on average:
        the load of a point no card holder used, where no queue needs simulating."""
        t, n = self._load()
        load = n * self.service.mean
        per_hour = np.bincount(np.minimum(t // 3600.0, hours).astype(np.int64), load, hours + 1)
        return float(load[(t >= lo) & (t < hi)].sum()), per_hour.tolist()

    def fill(self, f: np.ndarray, u: np.ndarray) -> None:
        """Write the parameters into a gate bank's state vectors (see the layout above)."""
        f[NEXT] = wave_after(0.0, self.headway, self.phase) if self.headway > 0 else 0.0
        f[SCALE], f[HEADWAY], f[PHASE], f[SPREAD] = self.scale, self.headway, self.phase, self.spread
        f[START_S], f[END] = self.start_s, self.end
        f[KIND], f[PA], f[PB] = self.service.params
        u[KEY] = self.key


def _slots(start_s: float, t: np.ndarray) -> np.ndarray:
    return (((start_s + t) % 86400.0) // 900.0).astype(np.int64)


@njit(cache=True)
def _rate(f, rates, t):  # pragma: no cover - compiled
    return rates[int(((f[START_S] + t) % 86400.0) // 900.0)] * f[SCALE]


@njit(cache=True)
def draw_arrival(f, u, rates):  # pragma: no cover - compiled
    """Without a headway: draw the passenger after the one at f[NEXT] (the first if none was
    drawn yet) into f[NEXT], f[NEXT_S]; inf when none comes before the end. The gap is an
    exponential of unit rate spent against the slots' rates (exact for a rate that changes at
    slot boundaries)."""
    k = u[WAVE]
    u[WAVE] = k + np.uint64(1)
    key = variates.wave_key(u[KEY], k)
    need = -math.log(1.0 - variates.uniform(key, np.uint64(1)))
    t = f[NEXT]
    while t < f[END]:
        slot_end = (math.floor((f[START_S] + t) / 900.0) + 1.0) * 900.0 - f[START_S]
        r = _rate(f, rates, t)
        if r > 0.0 and need <= r * (slot_end - t):
            t += need / r
            break
        need -= r * (slot_end - t)
        t = slot_end
    if t >= f[END]:
        f[NEXT] = math.inf
        return
    f[NEXT] = t
    f[NEXT_S] = variates.variate(int(f[KIND]), f[PA], f[PB], key, np.uint64(2))[0]
    u[COUNT] += np.uint64(1)


@njit(cache=True)
def draw_wave(f, u, buf, rates):  # pragma: no cover - compiled
    """With a headway: draw the wave at f[NEXT] into the pending passengers ``buf[:, HEAD:TAIL]``
    (times in row 0, in order; service times in row 1) and move f[NEXT] to the next wave.
    Returns False, changing nothing, when ``buf`` is too small for the wave (grow it, call
    again: the wave is drawn anew from its own key)."""
    w = f[NEXT]
    if w >= f[END]:
        f[NEXT] = math.inf
        return True
    key = variates.wave_key(u[KEY], u[WAVE])
    size, n = variates.poisson(_rate(f, rates, w) * f[HEADWAY], key, np.uint64(1))
    head, tail = np.int64(u[HEAD]), np.int64(u[TAIL])
    if tail + size > buf.shape[1]:
        if tail - head + size > buf.shape[1]:
            return False
        buf[:, :tail - head] = buf[:, head:tail].copy()      # compact: the pending to the front
        tail -= head
        head = 0
    spread, end = f[SPREAD], f[END]
    kind, pa, pb = int(f[KIND]), f[PA], f[PB]
    m = tail
    for _ in range(size):
        t = w + spread * variates.uniform(key, n)
        n = n + np.uint64(1)
        if t < end:
            buf[0, m] = t
            m += 1
    buf[0, tail:m].sort()
    for j in range(tail, m):
        buf[1, j], n = variates.variate(kind, pa, pb, key, n)
    if tail > head and m > tail and buf[0, tail - 1] > buf[0, tail]:
        # waves overlap (spread > headway): merge the new one into the pending ones
        order = np.argsort(buf[0, head:m], kind="mergesort")
        buf[:, head:m] = buf[:, head:m][:, order]
    u[HEAD], u[TAIL] = np.uint64(head), np.uint64(m)
    u[COUNT] += np.uint64(m - tail)
    u[WAVE] += np.uint64(1)
    f[NEXT] = w + f[HEADWAY]
    return True

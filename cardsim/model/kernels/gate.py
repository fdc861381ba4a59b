"""The gate banks' compiled queue: the layout of a bank's state, its other payers' arrivals (waves,
or one by one) and the first-come-first-served queue they share with the card holders
(:class:`cardsim.model.service_point.GateBank`, :mod:`cardsim.model.background`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .draws import poisson, uniform, variate, wave_key

# --- the state of a gate bank: a float64 vector (``GateBank.f``) ...
NEXT = 0        # the next wave's time (with a headway) or the next passenger's arrival (without)
NEXT_S = 1      # without a headway: that passenger's service time
SCALE = 2       # arrivals per second = rates[slot] * SCALE
HEADWAY, PHASE, SPREAD, START_S, END = 3, 4, 5, 6, 7
KIND, PA, PB = 8, 9, 10          # the service-time distribution (:func:`variate`)
LO, HI, BUSY, BG_BUSY = 11, 12, 13, 14   # measured span; busy terminal-seconds in it (all, others')
SKIPPED = 15    # other payers booked at their expected load, not drawn (:func:`_skip_wave`)
HORIZON = 16    # a skipped wave's queue is gone this long before a card holder (inf: none)
MEAN_S, SQ_S = 17, 18   # the service time's mean and second moment
TAIL_S = 19     # the service time's quantile at 1 - TAIL_P (one long service, in _skippable)
FREE = 20       # f[FREE:]: the terminals' next free times
# ... and a uint64 vector of keys and counters (``GateBank.u``)
KEY, WAVE, COUNT, HEAD, TAIL, STARTED, SKEY, SN = 0, 1, 2, 3, 4, 5, 6, 7
TURN = 8        # the terminal the next card holder is logged at (in turn)
U_SIZE = 9


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
    key = wave_key(u[KEY], k)
    need = -math.log(1.0 - uniform(key, np.uint64(1)))
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
    f[NEXT_S] = variate(int(f[KIND]), f[PA], f[PB], key, np.uint64(2))[0]
    u[COUNT] += np.uint64(1)


@njit(cache=True)
def _passengers(f, buf, tail, size, w, key, n):  # pragma: no cover - compiled
    """Write a wave of ``size`` passengers at ``w`` into ``buf[:, tail:]`` from draw ``n`` of its
    stream ``key``: arrival times in order (those before the end), then service times; returns
    the new tail. The times come without a sort: uniform order statistics are the normalised
    partial sums of size + 1 exponential gaps."""
    total = 0.0
    for j in range(tail, tail + size + 1):
        total -= math.log(1.0 - uniform(key, n))
        n = n + np.uint64(1)
        if j < tail + size:
            buf[0, j] = total
    m = tail
    scale = f[SPREAD] / total if size else 0.0
    for j in range(tail, tail + size):
        t = w + buf[0, j] * scale
        if t >= f[END]:
            break
        buf[0, j] = t
        m += 1
    kind, pa, pb = int(f[KIND]), f[PA], f[PB]
    for j in range(tail, m):
        buf[1, j], n = variate(kind, pa, pb, key, n)
    return m


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
    key = wave_key(u[KEY], u[WAVE])
    size, n = poisson(_rate(f, rates, w) * f[HEADWAY], key, np.uint64(1))
    head, tail = np.int64(u[HEAD]), np.int64(u[TAIL])
    if tail + size > buf.shape[1]:
        if tail - head + size > buf.shape[1]:
            return False
        buf[:, :tail - head] = buf[:, head:tail].copy()      # compact: the pending to the front
        tail -= head
        head = 0
    m = _passengers(f, buf, tail, size, w, key, n)
    if tail > head and m > tail and buf[0, tail - 1] > buf[0, tail]:
        # waves overlap (spread > headway): merge the new one into the pending ones
        order = np.argsort(buf[0, head:m], kind="mergesort")
        buf[:, head:m] = buf[:, head:m][:, order]
    u[HEAD], u[TAIL] = np.uint64(head), np.uint64(m)
    u[COUNT] += np.uint64(m - tail)
    u[WAVE] += np.uint64(1)
    # wave k at phase + k * headway, as holders reach it (background.wave_after): not a running
    # sum, whose rounding would put some waves an ulp away from the holders'
    f[NEXT] = f[PHASE] + float(u[WAVE]) * f[HEADWAY]
    return True


@njit(cache=True)
def _earliest(f):  # pragma: no cover - compiled
    """(index in f, time) of the terminal free first."""
    k = FREE
    m = f[FREE]
    for q in range(FREE + 1, f.shape[0]):
        if f[q] < m:
            m = f[q]
            k = q
    return k, m


@njit(cache=True)
def _book_other(f, t, s, sums, last):  # pragma: no cover - compiled
    """Serve an other payer arriving at ``t`` for ``s`` seconds: busy time inside [lo, hi) and per
    hour, to the hour service starts in."""
    k, m = _earliest(f)
    st = m if m > t else t
    f[k] = st + s
    if f[LO] <= st < f[HI]:
        f[BUSY] += s
        f[BG_BUSY] += s
    h = int(st / 3600.0)        # st >= 0: truncation is the floor (cheaper than //)
    sums[h if h < last else last] += s


@njit(cache=True)
def _book_hours(sums, a, b):  # pragma: no cover - compiled
    """Book the interval [a, b) into per-hour ``sums`` split at the hours, the last one taking
    the rest: :meth:`cardsim.model.stats.HourIntegral.add` compiled (tests/test_background.py
    checks they agree)."""
    last = sums.shape[0] - 1
    while a < b:
        h = int(a / 3600.0)     # a >= 0: truncation is the floor
        if h >= last:
            sums[last] += b - a
            return
        e = (h + 1) * 3600.0
        e = e if e < b else b
        sums[h] += e - a
        a = e


#: Standard deviations of a wave's work allowed for in the time its queue takes to clear
#: (:func:`_skippable`) ...
Z = 6.0
#: ... and one service at its quantile of 1 - TAIL_P: a heavy-tailed service time outlasts a
#: wave's work through one passenger's long service, which the standard deviations miss
#: (``Background.fill`` writes the quantile into f[TAIL_S]).
TAIL_P = 1e-12


@njit(cache=True)
def _skippable(f, u, rates, w, until, horizon):  # pragma: no cover - compiled
    """True when the wave at ``w`` may be booked at its expected load instead of drawn.

    The bank must be idle at ``w`` (no pending payer, every terminal free) and the wave's queue
    all but sure to be gone before the next wave comes and more than ``horizon`` before
    ``until`` (the card holder being admitted). The queue of ``n`` passengers (the slot's
    expected wave) on ``c`` terminals is taken to last its spread, plus its work per terminal at
    :data:`Z` standard deviations (the work of a Poisson wave has variance ``n E[s^2]``), plus
    one service at its :data:`TAIL_P` quantile. A skipped wave then leaves the bank idle when the
    next one comes, in a full run as here (unless its queue outlasts that bound), so every wave
    drawn after it, and every card holder, meets the queue a full run has."""
    if w >= f[END] or u[HEAD] != u[TAIL]:
        return False
    n = _rate(f, rates, w) * f[HEADWAY]
    c = f.shape[0] - FREE
    clear = f[SPREAD] + (n * f[MEAN_S] + Z * math.sqrt(n * f[SQ_S])) / c + f[TAIL_S]
    # the bound first: most waves near a card holder fail it, and need no scan of the terminals
    if not (clear < f[HEADWAY] and w + clear < until - horizon):
        return False
    for q in range(FREE, f.shape[0]):
        if f[q] > w:
            return False
    return True


@njit(cache=True)
def _skip_wave(f, u, rates, sums, last):  # pragma: no cover - compiled
    """Book the wave at f[NEXT] at its expected load (passengers, busy time, to the hour it
    comes in; only its part before the end, as a draw keeps) and move f[NEXT] to the next wave,
    drawing nothing."""
    w = f[NEXT]
    n = _rate(f, rates, w) * f[HEADWAY]
    if w + f[SPREAD] > f[END]:              # w < END (_skippable): the spread runs past it
        n *= (f[END] - w) / f[SPREAD]
    load = n * f[MEAN_S]
    f[SKIPPED] += n
    if f[LO] <= w < f[HI]:
        f[BUSY] += load
        f[BG_BUSY] += load
    h = int(w / 3600.0)
    sums[h if h < last else last] += load
    u[WAVE] += np.uint64(1)
    f[NEXT] = f[PHASE] + float(u[WAVE]) * f[HEADWAY]


@njit(cache=True)
def absorb(f, u, buf, rates, sums, until, horizon):  # pragma: no cover - compiled
    """Serve every other payer arriving at or before ``until``; False when ``buf`` must grow.
    Waves are skipped where :func:`_skippable` allows (``horizon`` inf: none; arrivals one by
    one, without a headway, are always drawn)."""
    last = sums.shape[0] - 1
    if u[STARTED] == 0:
        u[STARTED] = 1
        if f[HEADWAY] <= 0.0 and f[SCALE] > 0.0:
            draw_arrival(f, u, rates)
    if f[HEADWAY] <= 0.0:
        while f[NEXT] <= until:
            _book_other(f, f[NEXT], f[NEXT_S], sums, last)
            draw_arrival(f, u, rates)
        return True
    while True:
        head, tail = np.int64(u[HEAD]), np.int64(u[TAIL])
        nxt = f[NEXT]
        limit = until if until < nxt else nxt     # a wave not drawn yet arrives at nxt or later
        while head < tail and buf[0, head] <= limit:
            _book_other(f, buf[0, head], buf[1, head], sums, last)
            head += 1
        u[HEAD] = np.uint64(head)
        if nxt > until:
            return True
        if _skippable(f, u, rates, nxt, until, horizon):
            _skip_wave(f, u, rates, sums, last)
            continue
        if not draw_wave(f, u, buf, rates):
            return False


@njit(cache=True)
def gate(f, u, buf, rates, sums, now, service, patience):  # pragma: no cover - compiled
    """Admit a card holder arriving at ``now`` after the other payers who came before; returns
    (start of service, terminal index), (-1, -1) when they would wait longer than ``patience`` > 0
    and balk, (-2, -1) when ``buf`` must grow (call again). ``service`` < 0: draw it from the
    point's stream. Busy time is clipped to [lo, hi] and split over the hours."""
    if not absorb(f, u, buf, rates, sums, now, f[HORIZON]):
        return -2.0, -1
    if service < 0.0:
        service, sn = variate(int(f[KIND]), f[PA], f[PB], u[SKEY], u[SN])
        u[SN] = sn
    k, m = _earliest(f)
    start = m if m > now else now
    if patience > 0.0 and start - now > patience:
        return -1.0, -1
    end = start + service
    f[k] = end
    a = start if start > f[LO] else f[LO]
    b = end if end < f[HI] else f[HI]
    if b > a:
        f[BUSY] += b - a
    _book_hours(sums, start, end)
    i = np.int64(u[TURN])
    u[TURN] = np.uint64(i + 1 if i + 1 < f.shape[0] - FREE else 0)
    return start, i

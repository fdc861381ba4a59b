"""The model's compiled code (numba): random draws, the other payers' arrivals, the gate banks'
queue with the layout of the state they share, and the holders' plans.

Everything compiled lives in this one file on purpose: numba's on-disk cache (``cache=True``) is
invalidated by a change to the source file of the function it compiled, not to the files of the
functions it calls, so a kernel calling compiled code kept elsewhere could go on running that
code's old version.

**Random draws** come from counter-based streams: a stream is a 64-bit key, its n-th uniform
SplitMix64 of (key, n), as in :class:`cardsim.model.holders.HashStream`. A draw is a function of
(key, n) alone, so a kernel keeps no generator object: a point's other payers and service times
come from keys of its own (common random numbers: what one point draws never depends on another),
and a wave can be drawn again from scratch (:func:`wave_key`) if its buffer had to grow.
Distribution codes are those of ``params`` in :mod:`cardsim.model.distributions`: 0
deterministic, 1 exponential, 2 lognormal, 3 gamma, 4 uniform.

**The other payers** (:mod:`cardsim.model.background`) are drawn as the queue reaches them:
waves (:func:`draw_wave`) or one by one (:func:`draw_arrival`). **The queue**
(:class:`cardsim.model.service_point.GateBank`) serves them first come, first served, with the
card holders (:func:`gate`, :func:`absorb`). **A holder's day** (:func:`plan`) is drawn in one
go from the holder's stream: its steps, their times from the 15-minute profiles, each journey's
legs, and the walks and waits around them (:class:`cardsim.model.holders.Planner`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# numba keeps uint64 arithmetic in uint64 (wrapping) only when every operand is uint64
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_WAVE = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_U53 = 1.0 / 9007199254740992.0
_TWO_PI = 2.0 * math.pi


@njit(cache=True)
def mix(x):  # pragma: no cover - compiled
    """SplitMix64 of a uint64 (:func:`cardsim.model.streams.mix64`, bit for bit)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@njit(cache=True)
def uniform(key, n):  # pragma: no cover - compiled
    """The ``n``-th U[0, 1) of stream ``key`` (uint64 both)."""
    return float(mix(key + n * _GOLDEN) >> _S11) * _U53


@njit(cache=True)
def wave_key(key, k):  # pragma: no cover - compiled
    """The key of wave (or arrival) ``k`` of stream ``key``: each wave's draws stand alone."""
    return mix(key ^ (np.uint64(k) * _WAVE + _WAVE))


@njit(cache=True)
def normal(key, n):  # pragma: no cover - compiled
    """A standard normal from draws n and n + 1 (Box-Muller)."""
    u1 = uniform(key, n)
    u2 = uniform(key, n + np.uint64(1))
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)


@njit(cache=True)
def variate(kind, a, b, key, n):  # pragma: no cover - compiled
    """A draw of distribution (kind, a, b) from stream ``key`` starting at draw ``n``; returns
    (value, the next unused draw)."""
    one = np.uint64(1)
    if kind == 0:
        return a, n
    if kind == 1:
        return -a * math.log(1.0 - uniform(key, n)), n + one
    if kind == 2:
        return math.exp(a + b * normal(key, n)), n + np.uint64(2)
    if kind == 4:
        return a + (b - a) * uniform(key, n), n + one
    # gamma(shape a, scale b): Marsaglia and Tsang; shape < 1 boosted by U^(1/a)
    shape = a if a >= 1.0 else a + 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z = normal(key, n)
        v = (1.0 + c * z) ** 3
        u = uniform(key, n + np.uint64(2))
        n = n + np.uint64(3)
        if v > 0.0 and math.log(1.0 - u) < 0.5 * z * z + d - d * v + d * math.log(v):
            x = d * v * b
            if a < 1.0:
                x *= (1.0 - uniform(key, n)) ** (1.0 / a)
                n = n + one
            return x, n


@njit(cache=True)
def poisson(lam, key, n):  # pragma: no cover - compiled
    """A Poisson(``lam``) count from stream ``key`` starting at draw ``n``; returns (count, the
    next unused draw). Inversion below 10, else Hoermann's transformed rejection (PTRS, as numpy)."""
    one = np.uint64(1)
    if lam <= 0.0:
        return 0, n
    if lam < 10.0:
        u = uniform(key, n)
        p = math.exp(-lam)
        f = p
        k = 0
        while u > f and k < 1000:
            k += 1
            p *= lam / k
            f += p
        return k, n + one
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    bb = 0.931 + 2.53 * slam
    aa = -0.059 + 0.02483 * bb
    invalpha = 1.1239 + 1.1328 / (bb - 3.4)
    vr = 0.9277 - 3.6224 / (bb - 2.0)
    while True:
        u = uniform(key, n) - 0.5
        v = uniform(key, n + one)
        n = n + np.uint64(2)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * aa / us + bb) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return int(k), n
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(aa / (us * us) + bb)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return int(k), n


# --- the state of a gate bank: a float64 vector (``GateBank.f``) ...
NEXT = 0        # the next wave's time (with a headway) or the next passenger's arrival (without)
NEXT_S = 1      # without a headway: that passenger's service time
SCALE = 2       # arrivals per second = rates[slot] * SCALE
HEADWAY, PHASE, SPREAD, START_S, END = 3, 4, 5, 6, 7
KIND, PA, PB = 8, 9, 10          # the service-time distribution (:func:`variate`)
LO, HI, BUSY, BG_BUSY = 11, 12, 13, 14   # measured span; busy terminal-seconds in it (all, others')
FREE = 16       # f[FREE:]: the terminals' next free times
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


@njit(cache=True)
def absorb(f, u, buf, rates, sums, until):  # pragma: no cover - compiled
    """Serve every other payer arriving at or before ``until``; False when ``buf`` must grow."""
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
        if not draw_wave(f, u, buf, rates):
            return False


@njit(cache=True)
def gate(f, u, buf, rates, sums, now, service, patience):  # pragma: no cover - compiled
    """Admit a card holder arriving at ``now`` after the other payers who came before; returns
    (start of service, terminal index), (-1, -1) when they would wait longer than ``patience`` > 0
    and balk, (-2, -1) when ``buf`` must grow (call again). ``service`` < 0: draw it from the
    point's stream. Busy time is clipped to [lo, hi] and split over the hours."""
    if not absorb(f, u, buf, rates, sums, now):
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


# --- holders' plans (:class:`cardsim.model.holders.Planner`) -----------------------------------
# A plan is rows of STEP_W floats, one a step: what it is, when and where, and the draws the
# holder's day takes later (walks, the wait for a wave, the time at a site), drawn with the plan
# from the holder's stream so that the day is one function of the holder's key.
S_KIND, S_AT, S_PROV, S_POINT, S_ITEM, S_AFTER, S_ACCESS, S_TRANSFER, S_LEGS = range(9)
S_LEG = 9               # legs from here: mode, point, km, riding seconds, jitter
LEG_W = 5
STEP_W = S_LEG + 2 * LEG_W
K_JOURNEY, K_SCENIC, K_GOV, K_MOVE = 0, 1, 2, 3      # S_KIND
M_METRO, M_BUS = 0, 1                                # a leg's mode
# rows of a plan's quantile tables (each QUANTILES long; km for the journeys' province)
T_ACCESS, T_TRANSFER, T_GAP, T_VISIT, T_INTERCITY, T_KM_METRO, T_KM_BUS = range(7)
# profiles of a plan: the first departure's, later journeys', the way back's (rows of ``prof``)
P_FIRST, P_LATER, P_BACK = range(3)
# holder kinds (what a plan holds)
H_LOCAL, H_TWOWAY, H_VISITOR, H_TOURIST, H_GOV = range(5)
_ONE, _TWO = np.uint64(1), np.uint64(2)
_SLOT_S = 900.0


@njit(cache=True)
def bisect_left(a, x):  # pragma: no cover - compiled
    """As :func:`bisect.bisect_left` on a sorted float array."""
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def bisect_right(a, x):  # pragma: no cover - compiled
    """As :func:`bisect.bisect_right` on a sorted float array."""
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def profile_clock(cum, u, v):  # pragma: no cover - compiled
    """The clock second of quantile ``u`` of a cumulated 15-minute profile, placed in its slot
    by ``v``."""
    s = bisect_right(cum, u * cum[-1])
    if s >= len(cum):
        s = len(cum) - 1
    return (s + v) * _SLOT_S


@njit(cache=True)
def profile_after(cum, clock, u, v):  # pragma: no cover - compiled
    """A clock second drawn from the profile beyond ``clock`` (from the slot it is in; the last
    open slot when none is left)."""
    s = int(clock // _SLOT_S)
    if s >= len(cum):
        c = 1.0
    else:
        before = cum[s - 1] if s > 0 else 0.0
        c = (before + (cum[s] - before) * (clock / _SLOT_S - s)) / cum[-1]
    return profile_clock(cum, c + u * (1.0 - c), v)


@njit(cache=True)
def first_clocks(keys, cum):  # pragma: no cover - compiled
    """Each holder's first departure (clock second): the first two draws of its stream."""
    out = np.empty(len(keys))
    for i in range(len(keys)):
        out[i] = profile_clock(cum, uniform(keys[i], _ONE), uniform(keys[i], _TWO))
    return out


@njit(cache=True)
def _count(cum, lo, u):  # pragma: no cover - compiled
    """The count (from ``lo``) of quantile ``u`` of a cumulated pmf."""
    if cum[-1] <= 0.0:
        return lo
    return lo + min(bisect_left(cum, u * cum[-1]), len(cum) - 1)


@njit(cache=True)
def _pick(cum, u):  # pragma: no cover - compiled
    """A point by its share (cumulated ``cum``) at quantile ``u`` (the schema gives every type
    a point: 0 for none is never drawn)."""
    if len(cum) == 0:
        return 0
    return min(bisect_left(cum, u * cum[-1]), len(cum) - 1)


@njit(cache=True)
def _table(tables, row, u):  # pragma: no cover - compiled
    return tables[row, int(u * tables.shape[1])]


@njit(cache=True)
def _journey(row, key, n, at, prov, modes, metro, bus, tables, speeds):  # pragma: no cover - compiled
    """A journey at ``at`` in province ``prov`` (its mode mix ``modes``, its stations' and stops'
    cumulated shares ``metro``, ``bus``, the modes' ``speeds`` in km/h, 0 for no riding time)
    into ``row``: eleven draws from ``n``; returns the next."""
    kind = min(bisect_left(modes, uniform(key, n) * modes[-1]), 3)
    metro_first = uniform(key, n + _ONE) < 0.5
    n = n + _TWO
    row[S_KIND], row[S_AT], row[S_PROV] = K_JOURNEY, at, prov
    row[S_LEGS] = 1 if kind < 2 else 2
    for leg in range(2):
        if kind == 0 or (kind == 2 and (leg == 0) == metro_first):
            mode = M_METRO
        else:
            mode = M_BUS
        o = S_LEG + leg * LEG_W
        row[o] = mode
        row[o + 1] = _pick(metro if mode == M_METRO else bus, uniform(key, n))
        km = max(_table(tables, T_KM_METRO + mode, uniform(key, n + _ONE)), 0.5)
        row[o + 2] = km
        row[o + 3] = km / speeds[mode] * 3600.0 if speeds[mode] > 0.0 else 0.0
        row[o + 4] = uniform(key, n + _TWO)
        n = n + np.uint64(3)
    row[S_ACCESS] = _table(tables, T_ACCESS, uniform(key, n))
    row[S_TRANSFER] = _table(tables, T_TRANSFER, uniform(key, n + _ONE))
    row[S_AFTER] = _table(tables, T_GAP, uniform(key, n + _TWO))
    return n + np.uint64(3)


@njit(cache=True)
def _later(key, n, prof, first, clock0, k, day_s):  # pragma: no cover - compiled
    """``k`` later departures (simulated seconds, in order) after ``clock0``: the first from
    profile row ``first``, the others from P_LATER; returns (times, next draw)."""
    out = np.empty(k)
    for j in range(k):
        out[j] = day_s + profile_after(prof[first if j == 0 else P_LATER], clock0,
                                       uniform(key, n), uniform(key, n + _ONE))
        n = n + _TWO
    return np.sort(out), n


@njit(cache=True)
def _move(row, at, prov, tables, key, n):  # pragma: no cover - compiled
    """A move by intercity train to ``prov``, leaving at ``at``; returns the next draw."""
    row[S_KIND], row[S_AT], row[S_PROV] = K_MOVE, at, prov
    row[S_AFTER] = _table(tables, T_INTERCITY, uniform(key, n))
    return n + _ONE


@njit(cache=True)
def _gov(r, key, n, at, host, site, items, tables):  # pragma: no cover - compiled
    """A government case at hall ``site``, an item by Zipf weights (cumulated ``items``)."""
    j = min(bisect_right(items, uniform(key, n) * items[-1]), len(items) - 1)
    r[S_KIND], r[S_AT], r[S_PROV], r[S_POINT], r[S_ITEM] = K_GOV, at, host, site, j
    r[S_AFTER] = _table(tables, T_GAP, uniform(key, n + _ONE))


@njit(cache=True)
def _before(rows, kind, key, n, c0, day_s, home, host, site, nj, prof,
            tables):  # pragma: no cover - compiled
    """The steps before a holder's ``nj`` journeys, and the journeys' times: (steps written,
    times, next draw). Locals: none, their first journey at ``c0``; visitors: the train; tourists:
    the train when from the other province (a second before), then the site."""
    if kind == H_LOCAL or kind == H_TWOWAY:
        later, n = _later(key, n, prof, P_BACK if kind == H_TWOWAY else P_LATER, c0,
                          max(nj - 1, 0), day_s)
        times = np.empty(len(later) + 1)
        times[0] = day_s + c0
        times[1:] = later
        return 0, times, n
    m = 0
    if kind == H_VISITOR or home != host:
        n = _move(rows[0], day_s + c0 - (0.0 if kind == H_VISITOR else 1.0), host, tables, key, n)
        m = 1
    if kind == H_TOURIST:
        r = rows[m]
        r[S_KIND], r[S_AT], r[S_PROV], r[S_POINT] = K_SCENIC, day_s + c0, host, site
        r[S_AFTER] = _table(tables, T_VISIT, uniform(key, n))
        n = n + _ONE
        m += 1
    times, n = _later(key, n, prof, P_LATER, c0 + 3600.0, nj, day_s)
    return m, times, n


@njit(cache=True)
def _return(r, key, n, share, after, day_s, home, prof, tables):  # pragma: no cover - compiled
    """With probability ``share``, a visitor's train home after clock second ``after`` (from the
    way back's profile) into ``r``; returns 1 if so, else 0."""
    if uniform(key, n) >= share:
        return 0
    back = day_s + profile_after(prof[P_BACK], after, uniform(key, n + _ONE), uniform(key, n + _TWO))
    _move(r, back, home, tables, key, n + np.uint64(3))
    return 1


@njit(cache=True)
def plan(out, steps, kind, keys, clocks, day_s, home, host, site, extra, jcum, jlo, prof,
         tables, modes, metro, bus, speeds):  # pragma: no cover - compiled
    """The plans of a block of holders of one kind (H_*), one after another: their steps' rows
    into ``out``, packed (the caller gives room for the most a holder can take: its journeys and
    three more steps; numba does not check), holder i's count into ``steps[i]``; returns the
    rows written. ``clocks``: first departures (clock seconds); ``day_s``: the day's
    simulated second at clock 0; ``home``/``host``: provinces (host: where the journeys are);
    ``site``: the scenic site or hall; ``extra``: the visitors' return share, or the government
    items' cumulated weights; ``jcum``/``jlo``: journeys a day (cumulated pmf, least count)."""
    total = 0
    for i in range(len(keys)):
        key, c0, rows = keys[i], clocks[i], out[total:]
        n = np.uint64(3)                    # draws 1 and 2 placed the first departure
        if kind == H_GOV:
            _gov(rows[0], key, n, day_s + c0, host, site, extra, tables)
            m = 1
        else:
            nj = _count(jcum, jlo, uniform(key, n))
            m, times, n = _before(rows, kind, key, n + _ONE, c0, day_s, home, host, site, nj,
                                  prof, tables)
            for t in times:
                n = _journey(rows[m], key, n, t, host, modes, metro, bus, tables, speeds)
                m += 1
            if kind == H_VISITOR:
                after = times[-1] - day_s if len(times) else c0 + 3600.0
                m += _return(rows[m], key, n, extra[0], after, day_s, home, prof, tables)
        steps[i] = m
        total += m
    return total

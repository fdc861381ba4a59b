"""Holders' plans, compiled: a block of holders' days drawn in one call, each from its holder's
stream (:class:`cardsim.model.holders.Planner` holds what they read and makes the steps)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .draws import uniform

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

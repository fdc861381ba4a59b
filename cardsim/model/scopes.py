"""Service point figures per scope (a type, a province's type, one named point) and period (the
day, the peak hour, a clock window): the summary's ``scopes`` and ``windows`` (docs/summary.md).

Periods are made of simulated hours: the day is the run after warm-up (waits, balks, busy and
queueing time clipped exactly to it); the peak is the scope's busiest hour by arrivals (served
or balked) among the hours that start after warm-up, the earliest on a tie; a window
``HH:MM-HH:MM`` is the hours after warm-up whose clock start (``start_hour`` + sim hour) falls
in it. Per hour figures count customers by arrival hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cardsim.config.metric_names import parse_scoped
from cardsim.config.metrics import scoped_value
from cardsim.config.points import named_points, point_names
from cardsim.config.schema import SERVICE_TYPES
from cardsim.domain import PROVINCES
from cardsim.model.point_stats import histogram
from cardsim.model.stats import Histogram, integral


@dataclass(frozen=True)
class Scope:
    """The points of one scope: ``parts``, each a type's customers in one province
    (:class:`cardsim.model.point_stats.PointWaits`) and the point they are narrowed to (None: all
    of the type's points), and their terminal banks."""

    parts: tuple
    banks: tuple

    @cached_property
    def terminals(self) -> int:
        return sum(b.count for b in self.banks)

    # Performance shortcut: a type's scope holds 20,000 bus stops; its per-hour sums are added
    # up once (every figure below is linear in them) instead of once per hour asked.

    @cached_property
    def hour_busy(self) -> list[float]:
        """Busy terminal-seconds per simulated hour, over the scope's banks."""
        return column_sums([b.hourly.sums for b in self.banks])

    @cached_property
    def rows(self) -> list[tuple]:
        """(columns, the scope's rows in them) of each part."""
        return [(c, c.select(k)) for pw, k in self.parts for c in (pw.columns(),)]

    @cached_property
    def hour_queued(self) -> list[float]:
        """Customer-seconds spent queueing per simulated hour, over the scope's points."""
        return column_sums([pw.queued(rows) for (pw, _k), (_c, rows) in zip(self.parts, self.rows)])

    @cached_property
    def hour_arrivals(self) -> dict[int, int]:
        """Customers (served or balked) by arrival hour, over the scope's points."""
        out: dict[int, int] = {}
        for (pw, k), (c, rows) in zip(self.parts, self.rows):
            for h, n in enumerate(np.bincount(c.hour[rows]).tolist()):
                if n:
                    out[h] = out.get(h, 0) + n
            for h, n in pw.hour_balks(k, k is None).items():
                out[h] = out.get(h, 0) + n
        return out

    def waits(self, after: float | None = None, hours=None) -> Histogram:
        """The waits of the customers who arrived at or after ``after``, or in ``hours``."""
        picked = []
        for c, rows in self.rows:
            mask = np.ones(len(c.wait), dtype=bool) if isinstance(rows, slice) else rows
            if after is not None:
                mask = mask & (c.arrival >= after)
            if hours is not None:
                mask = mask & np.isin(c.hour, np.asarray(hours, dtype=np.int64))
            picked.append((c, mask))
        return histogram(picked)

    def balked(self, hours=None) -> int:
        """Balks after warm-up (``hours`` None) or in ``hours``."""
        if hours is None:
            return sum(pw.balks(k, k is None) for pw, k in self.parts)
        chosen = set(hours)
        return sum(n for pw, k in self.parts for h, n in pw.hour_balks(k, k is None).items()
                   if h in chosen)


def column_sums(rows: list[list[float]]) -> list[float]:
    """Per-hour sums added up over many points (their lists are of one length)."""
    if not rows:
        return []
    return np.asarray(rows, dtype=float).sum(axis=0).tolist()


def scope_of(sim, province: str | None, stype: str, point: str | None = None) -> Scope:
    """The points a scope covers (``point`` a name from :func:`point_name`)."""
    parts, banks = [], []
    for p in ([province] if province else PROVINCES):
        sp = sim.points[p][stype]
        if point is None:
            parts.append((sp.waits, None))
            banks += sp.banks
        else:
            k = point_names(sim.cfg, p, stype).index(point)
            parts.append((sp.waits, k))
            banks.append(sp.banks[k])
    return Scope(tuple(parts), tuple(banks))


def measured_hours(sim) -> list[tuple[int, float]]:
    """(hour, its seconds in the run) for each simulated hour that starts after warm-up."""
    out, h = [], 0
    while h * 3600.0 < sim.duration:
        if h * 3600.0 >= sim.warmup:
            out.append((h, min(3600.0, sim.duration - h * 3600.0)))
        h += 1
    return out


def clock_label(sim, h: int) -> str:
    start = int(round(sim.start_hour * 60 + h * 60)) % 1440
    end = start + 60
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def in_window(sim, h: int, window: tuple[int, int]) -> bool:
    m = int(round(sim.start_hour * 60 + h * 60)) % 1440
    a, b = window
    return a <= m < b if a < b else (m >= a or m < b)


def _hour_util(scope: Scope, h: int) -> float:
    busy = scope.hour_busy
    return busy[h] / (scope.terminals * 3600.0) if scope.terminals and h < len(busy) else 0.0


def _period(waits: Histogram, balked: int, seconds: float, busy: float, queued: float,
            terminals: int, max_hour: float) -> dict:
    hours = seconds / 3600.0
    return {"wait": waits.summary(), "balked": balked,
            "throughput": round(waits.n / hours, 4) if hours else 0.0,
            "utilisation": round(busy / (terminals * seconds), 6) if terminals and seconds else 0.0,
            "utilisation_max_hour": round(max_hour, 6),
            "queue_length": round(queued / seconds, 6) if seconds else 0.0}


def day(sim, scope: Scope, hours: list[tuple[int, float]]) -> dict:
    """The run after warm-up."""
    span = sim.duration - sim.warmup
    queued = integral(scope.hour_queued, sim.warmup, sim.duration)
    max_hour = max((_hour_util(scope, h) for h, _ in hours), default=0.0)
    return _period(scope.waits(after=sim.warmup), scope.balked(), span,
                   sum(b.busy for b in scope.banks), queued, scope.terminals, max_hour)


def over_hours(scope: Scope, hours: list[tuple[int, float]]) -> dict:
    """The figures over some whole simulated hours."""
    chosen = [h for h, _ in hours]
    busy = sum(scope.hour_busy[h] for h in chosen if h < len(scope.hour_busy))
    queued = sum(scope.hour_queued[h] for h in chosen if h < len(scope.hour_queued))
    max_hour = max((_hour_util(scope, h) for h in chosen), default=0.0)
    return _period(scope.waits(hours=chosen), scope.balked(chosen), sum(s for _, s in hours),
                   busy, queued, scope.terminals, max_hour)


def peak(sim, scope: Scope, hours: list[tuple[int, float]]) -> dict:
    """The scope's busiest hour after warm-up (by arrivals; the earliest on a tie)."""
    if not hours:
        return {**over_hours(scope, []), "window": None}
    arrivals = scope.hour_arrivals
    best = max(hours, key=lambda hs: (arrivals.get(hs[0], 0), -hs[0]))
    return {**over_hours(scope, [best]), "window": clock_label(sim, best[0])}


def _reported(sim, province: str, stype: str) -> list[str]:
    """The points with their own scope in the summary: the named ones, and any a threshold
    names (a city's 12,000 bus stops are not each reported)."""
    named = {n for n, _f in named_points(sim.cfg["provinces"][province][stype])}
    for name in sim.cfg.get("thresholds", {}):
        m, _ = parse_scoped(name)
        if m is not None and m.point and m.province == province and m.stype == stype:
            named.add(m.point)
    return [n for n in point_names(sim.cfg, province, stype) if n in named]


def scopes(sim) -> dict:
    """``{scope: {"day": figures, "peak": figures}}`` for every type, province.type and point."""
    hours = measured_hours(sim)
    out = {}
    keys = [(None, t, None) for t in SERVICE_TYPES] + [(p, t, None) for p in PROVINCES for t in SERVICE_TYPES]
    keys += [(p, t, n) for p in PROVINCES for t in SERVICE_TYPES for n in _reported(sim, p, t)]
    for p, t, n in keys:
        sc = scope_of(sim, p, t, n)
        name = ".".join(x for x in (p, t, n) if x)
        out[name] = {"day": day(sim, sc, hours), "peak": peak(sim, sc, hours)}
    return out


def window_values(sim, names) -> dict[str, float]:
    """The value of each clock-window metric among ``names`` (the others are skipped)."""
    hours = measured_hours(sim)
    cache: dict[tuple, dict] = {}
    out = {}
    for name in names:
        m, _ = parse_scoped(name)
        if m is None or m.window is None:
            continue
        key = (m.scope, m.period)
        if key not in cache:
            chosen = [(h, s) for h, s in hours if in_window(sim, h, m.window)]
            cache[key] = over_hours(scope_of(sim, m.province, m.stype, m.point), chosen)
        out[name] = scoped_value(cache[key], m)
    return out



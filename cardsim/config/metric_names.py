"""The grammar of the metric names that measure service points (a scope and a period).

    <family>.<scope>[.<period>][.<stat>]

- family: ``wait`` (seconds; stat ``count``, ``mean``, ``p50``, ``p95``, ``p99`` or ``max``),
  ``utilisation`` (share of the terminals' time busy; stat ``max_hour``, the busiest hour's, or
  none), ``queue_length`` (time-weighted mean customers waiting), ``balked`` (customers who left
  without a transaction), ``throughput`` (customers reaching a terminal, per hour);
- scope: a service point type (``scenic_gate``: both provinces), a province and a type
  (``chongqing.scenic_gate``) or one named point (``chongqing.scenic_gate.hongyadong``, names from
  :func:`cardsim.config.points.point_name`);
- period: none (the day: the whole run after warm-up), ``peak`` (the scope's busiest clock hour
  by arrivals, after warm-up) or a clock window ``HH:MM-HH:MM`` (the simulated hours that start
  in it, after warm-up; ``22:00-02:00`` wraps midnight).

E.g. ``wait.chongqing.scenic_gate.p95``, ``wait.chongqing.scenic_gate.peak.p95``,
``utilisation.sichuan.metro.chunxi_road.max_hour``, ``throughput.bus.07:00-09:00``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cardsim.config.points import named_points, point_names
from cardsim.config.schema import SERVICE_TYPES
from cardsim.domain import PROVINCES

FAMILIES = ("wait", "utilisation", "queue_length", "balked", "throughput")
WAIT_STATS = ("count", "mean", "p50", "p95", "p99", "max")
_WINDOW = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Scoped:
    """One parsed scoped metric name."""

    family: str
    stype: str
    province: str | None = None
    point: str | None = None
    period: str = "day"           # "day", "peak" or "HH:MM-HH:MM"
    stat: str | None = None       # wait: a WAIT_STATS entry; utilisation: None or "max_hour"

    @property
    def scope(self) -> str:
        return ".".join(p for p in (self.province, self.stype, self.point) if p)

    @property
    def window(self) -> tuple[int, int] | None:
        """A window period as (start, end) minutes of the day; None for the day or the peak."""
        m = _WINDOW.match(self.period)
        if not m:
            return None
        a, b = int(m.group(1)) * 60 + int(m.group(2)), int(m.group(3)) * 60 + int(m.group(4))
        return a, b


def window_minutes(text: str) -> tuple[int, int] | None:
    """``"HH:MM-HH:MM"`` as (start, end) minutes of the day, or None."""
    return Scoped("wait", "metro", period=text).window


def parse_scoped(name: str) -> tuple[Scoped | None, str | None]:
    """(metric, None); (None, None) when ``name`` is not of this grammar at all (another family,
    or a ``throughput.<channel|province>``); (None, what is wrong) when it nearly is."""
    parts = name.split(".")
    if parts[0] not in FAMILIES or len(parts) < 2:
        return None, None
    family, i = parts[0], 1
    province = parts[1] if parts[1] in PROVINCES else None
    i += province is not None
    if i >= len(parts) or parts[i] not in SERVICE_TYPES:
        if family == "throughput":
            return None, None
        return None, f"expected a service point type ({', '.join(SERVICE_TYPES)}) after {'.'.join(parts[:i])}"
    stype, rest = parts[i], parts[i + 1:]
    stat, err = _stat(family, rest)
    if err:
        return None, err
    if stat is not None:
        rest = rest[:-1]
    return _scope_rest(family, stype, province, rest, stat)


def _stat(family: str, rest: list[str]) -> tuple[str | None, str | None]:
    last = rest[-1] if rest else None
    if family == "wait":
        if last not in WAIT_STATS:
            return None, f"a wait metric ends with one of {', '.join(WAIT_STATS)}"
        return last, None
    if family == "utilisation" and last == "max_hour":
        return last, None
    return None, None


def _scope_rest(family: str, stype: str, province: str | None, rest: list[str],
                stat: str | None) -> tuple[Scoped | None, str | None]:
    """The optional point and period after the type."""
    period = "day"
    if rest and (rest[-1] == "peak" or _WINDOW.match(rest[-1])):
        period = rest.pop()
    elif rest and re.match(r"^\d", rest[-1]) and ":" in rest[-1]:
        return None, f"{rest[-1]}: a window is HH:MM-HH:MM, e.g. 07:00-09:00"
    if len(rest) > 1:
        return None, f"unexpected {'.'.join(rest)} (expected a point name, peak or HH:MM-HH:MM)"
    point = rest[0] if rest else None
    if point is not None and province is None:
        return None, f"{point}: a point needs its province ({family}.<province>.{stype}.{point}...)"
    m = Scoped(family, stype, province, point, period, stat)
    if m.window is not None and m.window[0] == m.window[1]:
        return None, f"{period}: an empty window"
    return m, None


def scoped_names(cfg: dict | None = None) -> list[str]:
    """The scoped names for every type and province.type, day and peak (and, given a scenario's
    ``cfg``, every point it names); windows are not listed (any ``HH:MM-HH:MM`` is valid), nor
    the unnamed points (``point-7``, valid in a threshold, measured when one names it: a city's
    12,000 bus stops are not listed one by one)."""
    scopes = list(SERVICE_TYPES) + [f"{p}.{t}" for p in PROVINCES for t in SERVICE_TYPES]
    if cfg is not None:
        scopes += [f"{p}.{t}.{n}" for p in PROVINCES for t in SERVICE_TYPES
                   for n, _f in named_points(cfg["provinces"][p][t])]
    out = []
    for scope in scopes:
        for period in ("", ".peak"):
            out += [f"wait.{scope}{period}.{s}" for s in WAIT_STATS]
            out += [f"{f}.{scope}{period}" for f in FAMILIES[1:]]
        out.append(f"utilisation.{scope}.max_hour")
    return out

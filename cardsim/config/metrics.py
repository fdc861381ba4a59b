"""Named metrics of a run summary, and thresholds on them.

A metric name is a dotted path into the summary (docs/summary.md), e.g. ``wait.metro.p95``
(seconds), ``decline_rate.government``, ``utilisation.sichuan.gov_window``,
``utilisation.issuer-sichuan``, ``revenue_yuan.chongqing.tourism``. Service point metrics follow
one grammar, per type, province and named point, for the day, the peak hour or a clock window
(:mod:`cardsim.config.metric_names`): ``wait.chongqing.scenic_gate.peak.p95``.
:func:`metric_names` lists every valid name but the windows; thresholds, sweeps and reports use
the same names.

A threshold is ``"<op> <number>"`` with op one of ``<``, ``<=``, ``>``, ``>=``, e.g.
``"wait.metro.p95" = "< 20"`` in a scenario's ``[thresholds]`` table, or
``wait.metro.p95<20`` on the command line (``--threshold``).
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass

from cardsim.config.metric_names import Scoped, parse_scoped, scoped_names
from cardsim.config.points import point_names
from cardsim.domain import CHANNELS, PROVINCES

_STATS = ("mean", "p50", "p95", "p99", "max")


def _expand(template: str, *axes: tuple[str, ...]) -> list[str]:
    """``template`` filled with every combination of the axes' values, the last axis fastest."""
    return [template.format(*combo) for combo in itertools.product(*axes)]


def plain_metric_names() -> list[str]:
    """The metrics outside the service point grammar."""
    return (["transactions", "approved", "declined", "decline_rate",
             "blacklist_exposure.transactions", "blacklist_exposure.amount_fen", "utilisation.hub"]
            + _expand("throughput.{}", CHANNELS) + _expand("decline_rate.{}", CHANNELS)
            + _expand("throughput.{}", PROVINCES) + _expand("decline_rate.{}", PROVINCES)
            + _expand("utilisation.issuer-{}", PROVINCES)
            + _expand("issuer_latency.issuer-{}.{}", PROVINCES, _STATS)
            + _expand("revenue_yuan.{}", PROVINCES) + _expand("revenue_yuan.{}.{}", PROVINCES, CHANNELS)
            + _expand("clearing.net_yuan.{}", PROVINCES) + _expand("clearing.gross_yuan.{}", PROVINCES))


def metric_names(cfg: dict | None = None) -> list[str]:
    """Every valid metric name but the clock windows, in the order docs/scenarios.md lists them;
    with a scenario's ``cfg``, also those of each of its named points."""
    return plain_metric_names() + scoped_names(cfg)


#: Every metric name but the windows and the named points (which depend on the scenario).
METRICS = frozenset(metric_names())
_PLAIN = frozenset(plain_metric_names())


def check_metric(name: str, cfg: dict | None = None) -> str | None:
    """None when ``name`` is a metric (its point one of ``cfg``'s, given), else what is wrong."""
    if name in METRICS:
        return None
    m, err = parse_scoped(name)
    if m is None:
        close = difflib.get_close_matches(name, METRICS, n=1, cutoff=0.6)
        return ("unknown metric" + (f" ({err})" if err else "")
                + (f" (did you mean {close[0]}?)" if close else
                   "; see docs/summary.md for the metric names"))
    if m.point is not None and cfg is not None and m.point not in point_names(cfg, m.province, m.stype):
        names = point_names(cfg, m.province, m.stype)
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        return f"no point {m.point} of {m.province}.{m.stype} (points: {shown or 'none'})"
    return None


def is_window(name: str) -> bool:
    """True for a metric over a clock window (computed only when asked for, see docs/summary.md)."""
    m, _ = parse_scoped(name)
    return m is not None and m.window is not None


def metric_value(summary: dict, name: str) -> float:
    """The value of metric ``name`` in a run summary; KeyError for a name that is not a metric
    or that the summary does not hold (a window not asked for, a point not in the run)."""
    if name in _PLAIN:
        parts = name.split(".")
        return _VALUE_OF[parts[0]](summary, parts)
    m, _ = parse_scoped(name)
    if m is None:
        raise KeyError(name)
    if m.window is not None:
        return float(summary["windows"][name])
    return scoped_value(summary["scopes"][m.scope][m.period], m)


def scoped_value(period: dict, m: Scoped) -> float:
    """A scoped metric read from one period's figures of its scope (see docs/summary.md)."""
    if m.family == "wait":
        return float(period["wait"][m.stat])
    if m.stat == "max_hour":
        return float(period["utilisation_max_hour"])
    return float(period[m.family])


def _count(summary: dict, parts: list[str]) -> float:
    return float(summary[parts[0]])


def _rate(summary: dict, parts: list[str]) -> float:
    """``throughput.<group>``, ``decline_rate.<group>`` (a channel or a province), ``decline_rate``."""
    if len(parts) == 1:
        return summary["declined"] / summary["transactions"] if summary["transactions"] else 0.0
    group = summary["by_channel"] if parts[1] in CHANNELS else summary["by_province"]
    return float(group[parts[1]]["per_hour" if parts[0] == "throughput" else "decline_rate"])


def _utilisation(summary: dict, parts: list[str]) -> float:
    u = summary["utilisation"]
    if parts[1] == "hub":
        return float(u["hub"])
    return float(u["issuers"][parts[1]])


def _nested(summary: dict, parts: list[str]) -> float:
    """``a.b`` -> summary[a][b]; ``a.b.c`` -> summary[a][b][c]."""
    node = summary
    for part in parts:
        node = node[part]
    return float(node)


def _revenue(summary: dict, parts: list[str]) -> float:
    """``revenue_yuan.<province>[.<channel>]``: approved amounts at the province's terminals."""
    fen = summary["revenue_fen"][parts[1]]
    return (sum(fen.values()) if len(parts) == 2 else fen[parts[2]]) / 100.0


def _clearing(summary: dict, parts: list[str]) -> float:
    c = summary["clearing"]
    if parts[1] == "net_yuan":
        return float(c["net_yuan"][parts[2]])
    # gross_yuan.<province>: what the other province's cards spent at its terminals (it receives)
    return sum(v for k, v in c["gross_fen"].items() if k.endswith(f"->{parts[2]}")) / 100.0


#: How each plain metric family (the first part of a name) is read from a summary.
_VALUE_OF = {
    "transactions": _count, "approved": _count, "declined": _count,
    "throughput": _rate, "decline_rate": _rate,
    "issuer_latency": _nested, "blacklist_exposure": _nested,
    "utilisation": _utilisation, "revenue_yuan": _revenue, "clearing": _clearing,
}


def metric_unit(name: str) -> str:
    """The unit a metric is in, for axes and tables ("" for a name that is not a metric)."""
    family = name.split(".")[0]
    m, _ = parse_scoped(name)
    if m is not None:
        return {"wait": "s" if m.stat != "count" else "customers", "utilisation": "share busy",
                "queue_length": "customers waiting", "balked": "customers",
                "throughput": "customers / h"}[m.family]
    return {"transactions": "transactions", "approved": "transactions", "declined": "transactions",
            "throughput": "transactions / h", "decline_rate": "share declined",
            "utilisation": "share busy", "issuer_latency": "s", "revenue_yuan": "yuan",
            "clearing": "yuan", "blacklist_exposure": "fen" if name.endswith("_fen") else "transactions",
            }.get(family, "")


def metric_range(name: str) -> tuple[float | None, float | None]:
    """The values a metric can take: (low, high), None for unbounded. Shares are in [0, 1],
    a net clearing position has either sign, every other metric is a count, a time, a rate or an
    amount: >= 0."""
    unit = metric_unit(name)
    if unit.startswith("share"):
        return 0.0, 1.0
    if name.startswith("clearing.net_yuan"):
        return None, None
    return 0.0, None


_SPEC = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")
_INLINE = re.compile(r"^\s*([^<>=\s]+)\s*((?:<=|>=|<|>).*)$")


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    limit: float

    def holds(self, value: float) -> bool:
        return {"<": value < self.limit, "<=": value <= self.limit,
                ">": value > self.limit, ">=": value >= self.limit}[self.op]

    @property
    def upper(self) -> bool:
        """True for a ceiling (<, <=): a sweep tests it on the confidence interval's upper bound."""
        return self.op in ("<", "<=")

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.limit:g}"


def parse_threshold(metric: str, spec, cfg: dict | None = None) -> tuple[Threshold | None, str | None]:
    """(threshold, None) or (None, what was expected); with ``cfg``, a named point must be one of
    the scenario's."""
    err = check_metric(metric, cfg)
    if err:
        return None, err
    if not isinstance(spec, str) or not (m := _SPEC.match(spec)):
        return None, f'must be a string like "< 20" (op <, <=, >, >= and a number), got {spec!r}'
    return Threshold(metric, m.group(1), float(m.group(2))), None


def split_threshold(text: str) -> tuple[str, str] | None:
    """``"wait.metro.p95<20"`` -> ("wait.metro.p95", "<20"); None when there is no operator."""
    m = _INLINE.match(text)
    return (m.group(1), m.group(2)) if m else None


def thresholds_of(cfg: dict) -> list[Threshold]:
    out = []
    for metric, spec in sorted(cfg.get("thresholds", {}).items()):
        t, _ = parse_threshold(metric, spec)
        out.append(t)
    return out


def evaluate(summary: dict, thresholds: list[Threshold]) -> list[dict]:
    results = []
    for t in thresholds:
        v = metric_value(summary, t.metric)
        results.append({"metric": t.metric, "op": t.op, "limit": t.limit, "value": round(v, 6),
                        "passed": t.holds(v)})
    return results


#: The metrics a sweep's table and report show first (every other metric is in --json and --csv).
TABLE_METRICS = ("wait.metro.p95", "wait.bus.p95", "wait.scenic_gate.p95", "wait.gov_window.p95",
                 "throughput.transit", "throughput.tourism", "throughput.government",
                 "decline_rate.government", "utilisation.issuer-sichuan",
                 "blacklist_exposure.amount_fen", "clearing.net_yuan.sichuan")

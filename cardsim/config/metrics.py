"""Named metrics of a run summary, and thresholds on them.

A metric name is a dotted path into the summary (docs/summary.md), e.g. ``wait.metro.p95``
(seconds), ``decline_rate.government``, ``utilisation.sichuan.gov_window``,
``utilisation.issuer-sichuan``. :func:`metric_names` lists every valid name; thresholds, sweeps and
reports use the same names.

A threshold is ``"<op> <number>"`` with op one of ``<``, ``<=``, ``>``, ``>=``, e.g.
``"wait.metro.p95" = "< 20"`` in a scenario's ``[thresholds]`` table.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass

from cardsim.domain import CHANNELS, PROVINCES
from cardsim.config.schema import SERVICE_TYPES

_STATS = ("mean", "p50", "p95", "p99", "max")


def _expand(template: str, *axes: tuple[str, ...]) -> list[str]:
    """``template`` filled with every combination of the axes' values, the last axis fastest."""
    return [template.format(*combo) for combo in itertools.product(*axes)]


def metric_names() -> list[str]:
    """Every valid metric name, in the order docs/scenarios.md lists them."""
    return (["transactions", "approved", "declined", "decline_rate",
             "blacklist_exposure.transactions", "blacklist_exposure.amount_fen", "utilisation.hub"]
            + _expand("throughput.{}", CHANNELS) + _expand("decline_rate.{}", CHANNELS)
            + _expand("throughput.{}", PROVINCES) + _expand("decline_rate.{}", PROVINCES)
            + _expand("wait.{}.{}", SERVICE_TYPES, _STATS)
            + _expand("queue_length.{}", SERVICE_TYPES) + _expand("balked.{}", SERVICE_TYPES)
            + _expand("utilisation.{}.{}", PROVINCES, SERVICE_TYPES)
            + _expand("utilisation.issuer-{}", PROVINCES)
            + _expand("issuer_latency.issuer-{}.{}", PROVINCES, _STATS)
            + _expand("clearing.net_yuan.{}", PROVINCES))


METRICS = frozenset(metric_names())


def metric_value(summary: dict, name: str) -> float:
    """The value of metric ``name`` in a run summary; KeyError for a name not in :data:`METRICS`."""
    if name not in METRICS:
        raise KeyError(name)
    parts = name.split(".")
    return _VALUE_OF[parts[0]](summary, parts)


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
    if parts[1].startswith("issuer-"):
        return float(u["issuers"][parts[1]])
    return float(u["service_points"].get(f"{parts[1]}.{parts[2]}", 0.0))


def _nested(summary: dict, parts: list[str]) -> float:
    """``a.b`` -> summary[a][b]; ``a.b.c`` -> summary[a][b][c]."""
    node = summary
    for part in parts:
        node = node[part]
    return float(node)


#: How each metric family (the first part of a name) is read from a summary.
_VALUE_OF = {
    "transactions": _count, "approved": _count, "declined": _count,
    "throughput": _rate, "decline_rate": _rate,
    "wait": lambda s, parts: _nested(s, ["waits", *parts[1:]]),
    "queue_length": _nested, "balked": _nested, "issuer_latency": _nested, "blacklist_exposure": _nested,
    "utilisation": _utilisation,
    "clearing": lambda s, parts: float(s["clearing"]["net_yuan"][parts[2]]),
}


_SPEC = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


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


def parse_threshold(metric: str, spec) -> tuple[Threshold | None, str | None]:
    """(threshold, None) or (None, what was expected)."""
    if metric not in METRICS:
        close = difflib.get_close_matches(metric, METRICS, n=1, cutoff=0.6)
        return None, "unknown metric" + (f" (did you mean {close[0]}?)" if close else
                                         "; see docs/scenarios.md for the metric names")
    if not isinstance(spec, str) or not (m := _SPEC.match(spec)):
        return None, f'must be a string like "< 20" (op <, <=, >, >= and a number), got {spec!r}'
    return Threshold(metric, m.group(1), float(m.group(2))), None


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

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
import re
from dataclasses import dataclass

from cardsim.domain import CHANNELS
from cardsim.domain import PROVINCES
from cardsim.config.schema import SERVICE_TYPES

_STATS = ("mean", "p50", "p95", "p99", "max")


def metric_names() -> list[str]:
    names = ["transactions", "approved", "declined", "decline_rate",
             "blacklist_exposure.transactions", "blacklist_exposure.amount_fen",
             "utilisation.hub"]
    names += [f"throughput.{c}" for c in CHANNELS] + [f"decline_rate.{c}" for c in CHANNELS]
    names += [f"throughput.{p}" for p in PROVINCES] + [f"decline_rate.{p}" for p in PROVINCES]
    names += [f"wait.{t}.{s}" for t in SERVICE_TYPES for s in _STATS]
    names += [f"queue_length.{t}" for t in SERVICE_TYPES] + [f"balked.{t}" for t in SERVICE_TYPES]
    names += [f"utilisation.{p}.{t}" for p in PROVINCES for t in SERVICE_TYPES]
    names += [f"utilisation.issuer-{p}" for p in PROVINCES]
    names += [f"issuer_latency.issuer-{p}.{s}" for p in PROVINCES for s in _STATS]
    names += [f"clearing.net_yuan.{p}" for p in PROVINCES]
    return names


METRICS = frozenset(metric_names())


def metric_value(summary: dict, name: str) -> float:
    """The value of metric ``name`` in a run summary."""
    parts = name.split(".")
    head = parts[0]
    if name in ("transactions", "approved", "declined"):
        return float(summary[name])
    if name == "decline_rate":
        return summary["declined"] / summary["transactions"] if summary["transactions"] else 0.0
    if head in ("throughput", "decline_rate"):
        group = summary["by_channel"] if parts[1] in CHANNELS else summary["by_province"]
        return float(group[parts[1]]["per_hour" if head == "throughput" else "decline_rate"])
    if head == "wait":
        return float(summary["waits"][parts[1]][parts[2]])
    if head in ("queue_length", "balked"):
        return float(summary[head][parts[1]])
    if head == "utilisation":
        u = summary["utilisation"]
        if parts[1] == "hub":
            return float(u["hub"])
        if parts[1].startswith("issuer-"):
            return float(u["issuers"][parts[1]])
        return float(u["service_points"].get(f"{parts[1]}.{parts[2]}", 0.0))
    if head == "issuer_latency":
        return float(summary["issuer_latency"][parts[1]][parts[2]])
    if head == "blacklist_exposure":
        return float(summary["blacklist_exposure"][parts[1]])
    if head == "clearing":
        return float(summary["clearing"]["net_yuan"][parts[2]])
    raise KeyError(name)


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

"""What a sweep report shows, in the terminal and in HTML alike: which metrics, in which order,
how numbers read, and which metrics are zero throughout (told in one line, not charted).

The metrics shown: the thresholds' first, then the swept resources' own (when a key
``provinces.<p>.<type>.<key>`` is swept: that type's wait p95 for the day and the peak hour,
utilisation, busiest hour's utilisation and balks, beside each other), the ``--metric`` ones,
then :data:`cardsim.config.metrics.TABLE_METRICS`. Every metric is in ``--json`` and ``--csv``.
"""

from __future__ import annotations

import json
import re

from cardsim.config.metrics import TABLE_METRICS, metric_unit

_RESOURCE = re.compile(r"^provinces\.(sichuan|chongqing)\.(metro|bus|scenic_gate|gov_window)\.")


def combination_label(combo: dict) -> str:
    """``key=value, key=value`` (every swept key), or ``base`` when nothing is swept."""
    return ", ".join(f"{k}={json.dumps(v) if isinstance(v, str) else v}"
                     for k, v in combo["set"].items()) or "base"


def resource_metrics(result: dict) -> list[str]:
    """The metrics of the service points a swept key changes (wait, utilisation, balks)."""
    out = []
    for key in result.get("swept", {}):
        m = _RESOURCE.match(key)
        if m:
            scope = f"{m.group(1)}.{m.group(2)}"
            out += [f"wait.{scope}.p95", f"wait.{scope}.peak.p95", f"utilisation.{scope}",
                    f"utilisation.{scope}.max_hour", f"balked.{scope}"]
    return out


def threshold_metrics(result: dict) -> list[str]:
    return [c["metric"] for c in (result["combinations"][0]["thresholds"] if result["combinations"] else [])]


def shown_metrics(result: dict) -> list[str]:
    """The metrics a sweep report shows, in order, each once (only those the result holds)."""
    have = result["combinations"][0]["metrics"] if result["combinations"] else {}
    names = (threshold_metrics(result) + resource_metrics(result) + list(result.get("asked", []))
             + list(TABLE_METRICS))
    return [m for m in dict.fromkeys(names) if m in have]


def zero_throughout(result: dict, metric: str) -> bool:
    """True when the metric's mean and interval are 0 in every combination."""
    return all(c["metrics"][metric][k] == 0 for c in result["combinations"]
               for k in ("mean", "ci_low", "ci_high"))


def plain(x: float) -> str:
    """A number in a plain format: ``17,940``, ``12.5``, ``0.034`` (never ``1.794e+04``)."""
    a = abs(x)
    if a == 0:
        return "0"
    if x == int(x) and a < 1e15:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:,.1f}"
    if a >= 0.01:
        return f"{x:.3g}"
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def show(x: float, metric: str) -> str:
    """A value of ``metric``: shares as percentages, the rest :func:`plain`."""
    if metric_unit(metric).startswith("share"):
        return f"{x * 100:.1f}%" if abs(x) >= 0.001 or x == 0 else f"{x * 100:.3f}%"
    return plain(x)


def mean_ci(s: dict, metric: str) -> str:
    """``mean ± half the interval`` (the interval cut to the metric's range may be lopsided:
    then ``mean [low, high]``)."""
    half_lo, half_hi = s["mean"] - s["ci_low"], s["ci_high"] - s["mean"]
    if abs(half_lo - half_hi) > 2e-6 * max(1.0, abs(s["mean"])):   # the summary rounds to 1e-6
        return f"{show(s['mean'], metric)} [{show(s['ci_low'], metric)}, {show(s['ci_high'], metric)}]"
    return f"{show(s['mean'], metric)} ± {show(half_hi, metric)}"


def wrap_name(name: str, width: int) -> str:
    """A dotted name broken after its dots into lines of at most ``width`` characters (a part
    longer than that stays whole on its line): ``wait.chongqing.`` / ``scenic_gate.peak.p95``."""
    lines, cur = [], ""
    parts = name.split(".")
    for i, part in enumerate(parts):
        piece = part + ("." if i < len(parts) - 1 else "")
        if cur and len(cur) + len(piece) > width:
            lines.append(cur)
            cur = ""
        cur += piece
    lines.append(cur)
    return "\n".join(lines)

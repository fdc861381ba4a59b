"""The HTML report of a sweep: the verdict first, the thresholds with every combination's pass or
fail, the swept resource's wait, utilisation and balks side by side, then the other metrics
(each against the swept values, with its 95% interval, its threshold drawn as a line and each
combination's tested bound marked pass or fail); metrics that are zero in every combination are
named in one line instead of charted. Which metrics, and number formats: ``sweep_view``.
"""

from __future__ import annotations

from cardsim.config.metrics import metric_unit
from cardsim.reports.page import _chart, _esc, _page, _plt, _svg, _table
from cardsim.reports.sweep_view import (combination_label, mean_ci, plain, resource_metrics, show, shown_metrics,
                                        threshold_metrics, zero_throughout)
from cardsim.reports.text import inert


def sweep_report(result: dict, source: str) -> str:
    """The HTML report of a sweep result (``cardsim sweep --json`` output)."""
    plt = _plt()
    combos = result["combinations"]
    axis = _Axis.of(result)
    shown = shown_metrics(result)
    checked = set(threshold_metrics(result))
    flat = [m for m in shown if zero_throughout(result, m) and m not in checked]
    resource = [m for m in resource_metrics(result) if m in shown and m not in flat]
    others = [m for m in shown if m not in flat and m not in resource]
    charts = ""
    if resource:
        charts += "<h2>The swept resource</h2>" + _panel(plt, result, resource, axis)
    charts += ('<h2>Metrics against the swept values</h2><div class="grid">'
               + "".join(_metric_chart(plt, result, m, axis) for m in others) + "</div>")
    if flat:
        charts += f'<p class="note" data-zero="{len(flat)}">Zero in every combination (not charted): {_esc(", ".join(flat))}</p>'
    body = (f"<h1>cardsim sweep report: {_esc(str(result['scenario']))}</h1>" + _verdict(result)
            + f'<p class="meta">{_esc(_meta(result, source))}</p>'
            + _thresholds(result) + _combinations(result) + charts
            + "<h2>Means with 95% confidence intervals</h2>"
            + _table(["metric", "unit", *(f"#{i + 1}" for i in range(len(combos)))],
                     [[m, metric_unit(m), *(mean_ci(c["metrics"][m], m) for c in combos)] for m in shown]))
    return _page(f"cardsim sweep report: {result['scenario']}", body)


def _meta(result: dict, source: str) -> str:
    fixed = ", ".join(result.get("sets", [])) or "none"
    return (f"{source} · base seed {result['base_seed']} · {len(result['combinations'])} "
            f"combinations × {result['replications']} replications · scale {result['scale']:g} · "
            f"--set {fixed} · intervals: Student t cut to each metric's range (docs/summary.md)")


def _verdict(result: dict) -> str:
    v = result.get("verdict")
    if v is None:
        return ""
    cls = "pass" if v["smallest"] is not None else "fail"
    return f'<p class="verdict {cls}" data-verdict="{cls}">Verdict: {_esc(v["text"])}</p>'


def _thresholds(result: dict) -> str:
    combos = result["combinations"]
    if not combos or not combos[0]["thresholds"]:
        return "<h2>Thresholds</h2><p>None: the scenario has no [thresholds] and none was given.</p>"
    heads = [f"{c['metric']} {c['op']} {plain(c['limit'])} {metric_unit(c['metric'])} "
             f"(tested on the {'upper' if c['bound'] == 'ci_high' else 'lower'} bound)"
             for c in combos[0]["thresholds"]]
    rows = "".join(
        f"<tr><td>#{i + 1}: {_esc(combination_label(combo))}</td>"
        + "".join(f'<td class="{"pass" if t["passed"] else "fail"}">{_esc(plain(t["value"]))} '
                  f'{"pass" if t["passed"] else "FAIL"}</td>' for t in combo["thresholds"]) + "</tr>"
        for i, combo in enumerate(combos))
    h = "".join(f"<th>{_esc(x)}</th>" for x in ["combination", *heads])
    return f'<h2>Thresholds</h2><table data-thresholds="{len(heads)}"><thead><tr>{h}</tr></thead><tbody>{rows}</tbody></table>'


def _combinations(result: dict) -> str:
    rows = [[f"#{i + 1}", combination_label(c)] for i, c in enumerate(result["combinations"])]
    return "<h2>Combinations</h2>" + _table(["", "swept values"], rows)


class _Axis:
    """The x axis: the swept values of a single numeric key at their values, else #1, #2, ..."""

    def __init__(self, pos: list, labels: list[str], title: str):
        self.pos, self.labels, self.title = pos, labels, title

    @classmethod
    def of(cls, result: dict) -> "_Axis":
        keys = list(result["swept"])
        n = len(result["combinations"])
        if len(keys) == 1:
            xs = result["swept"][keys[0]]
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
                return cls(list(xs), [plain(x) for x in xs], keys[0])
            return cls(list(range(1, n + 1)), [str(x) for x in xs], keys[0])
        return cls(list(range(1, n + 1)), [f"#{i + 1}" for i in range(n)],
                   "combination (see the table)")

    def apply(self, ax) -> None:
        ax.set_xticks(self.pos, [inert(x) for x in self.labels])
        ax.set_xlabel(inert(self.title))


def _draw(ax, result: dict, m: str, axis: _Axis) -> None:
    """One metric: mean, interval, threshold line and the combinations' pass/fail marks."""
    from matplotlib.ticker import FuncFormatter
    combos = result["combinations"]
    stats = [c["metrics"][m] for c in combos]
    ax.fill_between(axis.pos, [s["ci_low"] for s in stats], [s["ci_high"] for s in stats],
                    alpha=0.25, color="#4f81bd", label="95% CI")
    ax.plot(axis.pos, [s["mean"] for s in stats], "o-", color="#1f4e79", label="mean", markersize=4)
    for t in (t for t in (combos[0]["thresholds"] if combos else []) if t["metric"] == m):
        ax.axhline(t["limit"], color="#c62828", linestyle="--", linewidth=1.2,
                   label=f"threshold {t['op']} {show(t['limit'], m)} {metric_unit(m)}")
        checks = [next(c for c in combo["thresholds"] if c["metric"] == m) for combo in combos]
        for passed, marker, colour, label in ((True, "o", "#2e7d32", "pass"), (False, "X", "#c62828", "FAIL")):
            pts = [(x, c["value"]) for x, c in zip(axis.pos, checks) if c["passed"] is passed]
            if pts:
                ax.scatter(*zip(*pts), marker=marker, s=60, color=colour, zorder=5,
                           facecolors="none" if passed else colour, label=f"{label} (tested bound)")
        break
    axis.apply(ax)
    unit = metric_unit(m)
    ax.set_ylabel({"s": "seconds"}.get(unit, unit))
    top = max([abs(s["ci_high"]) for s in stats] + [abs(s["mean"]) for s in stats] + [0.0])
    if unit.startswith("share"):
        digits = 0 if top >= 0.1 else 1 if top >= 0.01 else 2     # percent ticks that differ
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.{digits}f}%"))
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: plain(v)))
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)


def _metric_chart(plt, result: dict, m: str, axis: _Axis) -> str:
    fig, ax = plt.subplots(figsize=(5.2, 2.8))
    _draw(ax, result, m, axis)
    return _chart(f"{m} ({metric_unit(m)}) against {axis.title}", _svg(fig))


def _panel(plt, result: dict, metrics: list[str], axis: _Axis) -> str:
    """The swept resource's metrics side by side (small multiples, each on its own axis)."""
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, m in zip(axes.flat, metrics):
        _draw(ax, result, m, axis)
        ax.set_title(inert(m), fontsize=8)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _chart(f"Wait, utilisation and balks of the swept resource against {axis.title}", _svg(fig))

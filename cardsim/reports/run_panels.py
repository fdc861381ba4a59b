"""The run report's tables that answer a planner: the thresholds with pass/fail, and a panel per
province (each service point type's day and peak, the busiest points, revenue per channel)."""

from __future__ import annotations

from cardsim.config.metrics import metric_unit, metric_value, parse_threshold
from cardsim.config.schema import SERVICE_TYPES
from cardsim.domain import CHANNELS, PROVINCES
from cardsim.reports.page import _esc, _table
from cardsim.reports.sweep_view import plain, show

#: Points listed per province in its panel: the busiest by peak-hour p95 wait.
TOP_POINTS = 5


def run_thresholds(cfg: dict, s: dict) -> str:
    """The run's thresholds (its configuration's ``[thresholds]``) evaluated on its summary."""
    table = cfg.get("thresholds") if isinstance(cfg.get("thresholds"), dict) else {}
    if not table:
        return "<h2>Thresholds</h2><p>None: the scenario has no [thresholds] and none was given.</p>"
    rows = []
    for metric, spec in sorted(table.items(), key=lambda kv: str(kv[0])):
        t, err = parse_threshold(str(metric), spec)
        if t is None:
            rows.append(f"<tr><td>{_esc(metric)}</td><td>{_esc(spec)}</td><td></td><td></td>"
                        f'<td class="fail">unreadable: {_esc(err)}</td></tr>')
            continue
        try:
            v = metric_value(s, t.metric)
        except (KeyError, TypeError, ValueError):
            rows.append(f"<tr><td>{_esc(t.metric)}</td><td>{_esc(f'{t.op} {plain(t.limit)}')}</td>"
                        f'<td>{_esc(metric_unit(t.metric))}</td><td></td><td class="fail">not in the summary</td></tr>')
            continue
        ok = t.holds(v)
        rows.append(f"<tr><td>{_esc(t.metric)}</td><td>{_esc(f'{t.op} {plain(t.limit)}')}</td>"
                    f"<td>{_esc(metric_unit(t.metric))}</td><td>{_esc(show(v, t.metric))}</td>"
                    f'<td class="{"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("metric", "threshold", "unit", "value", "result"))
    return ("<h2>Thresholds (on the run's unverified summary)</h2>"
            f'<table data-thresholds="{len(rows)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def province_panels(s: dict) -> str:
    """Per province: its service point types (day and peak), its busiest points, its revenue."""
    scopes = s.get("scopes")
    if not isinstance(scopes, dict):
        return ""
    return ("<h2>Per province (unverified summary)</h2>"
            + "".join(_panel(s, scopes, p) for p in PROVINCES))


def _panel(s: dict, scopes: dict, p: str) -> str:
    types = [[t, plain(d["wait"]["p95"]), pk["window"] or "-", plain(pk["wait"]["p95"]),
              show(d["utilisation"], "utilisation.x"), show(d["utilisation_max_hour"], "utilisation.x"),
              plain(d["balked"]), plain(d["throughput"])]
             for t in SERVICE_TYPES for d, pk in ((scopes[f"{p}.{t}"]["day"], scopes[f"{p}.{t}"]["peak"]),)]
    points = sorted(((k, v) for k, v in scopes.items() if k.startswith(f"{p}.") and k.count(".") == 2),
                    key=lambda kv: (-kv[1]["peak"]["wait"]["p95"], -kv[1]["day"]["utilisation_max_hour"], kv[0]))
    top = [[k[len(p) + 1:], plain(v["day"]["wait"]["p95"]), v["peak"]["window"] or "-",
            plain(v["peak"]["wait"]["p95"]), show(v["day"]["utilisation_max_hour"], "utilisation.x"),
            plain(v["day"]["balked"])] for k, v in points[:TOP_POINTS]]
    revenue = s.get("revenue_fen", {}).get(p, {})
    money = [[c, f"{revenue.get(c, 0) / 100:,.2f}"] for c in CHANNELS]
    return (f'<h3 data-province="{_esc(p)}">{_esc(p)}</h3>'
            + _table(["service points", "p95 wait (s)", "peak hour", "peak p95 wait (s)",
                      "utilisation", "busiest hour's utilisation", "balked (customers)",
                      "throughput (customers / h)"], types)
            + f"<p class=\"note\">The {TOP_POINTS} points with the longest peak-hour p95 wait:</p>"
            + _table(["point", "p95 wait (s)", "its peak hour", "peak p95 wait (s)",
                      "busiest hour's utilisation", "balked (customers)"], top)
            + _table(["channel", "approved yuan at its terminals"], money))

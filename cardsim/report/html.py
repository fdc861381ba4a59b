"""HTML reports: one self-contained file per run log or sweep result, working offline.

Charts are drawn with matplotlib and inlined as SVG; there is no script from elsewhere, no font
or style sheet to fetch. A small inline script marks each chart element with its rendered size
(``data-rendered``), which the browser test reads.

Run report: scenario and seed, the summary table, throughput per hour per channel and province,
waiting percentiles over time per service point type, node utilisation over time, declines by
reason, cross-province flows and net clearing, blacklist exposure over time.
Sweep report: each key metric against the swept value, with its 95% confidence band.
"""

from __future__ import annotations

import html
import io
import json
import sqlite3
from pathlib import Path

from cardsim.errors import CardsimError, one_line
from cardsim.log.store import open_log, read_run


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "cardsim", "figure.dpi": 96, "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False})
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    import matplotlib.pyplot as plt
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _chart(title: str, svg: str, note: str = "") -> str:
    return (f'<figure class="chart" data-chart="{html.escape(title)}"><figcaption>'
            f"{html.escape(title)}</figcaption>{svg}"
            + (f'<p class="note">{html.escape(note)}</p>' if note else "") + "</figure>")


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.meta{color:#555;font-size:13px}
figure.chart{margin:16px 0;padding:8px;border:1px solid #eee}figcaption{font-weight:600;margin-bottom:6px}
figure.chart svg{max-width:100%;height:auto}.note{color:#666;font-size:12px}
"""

_CHECK = """<script>
window.cardsimErrors=[];window.addEventListener('error',function(e){window.cardsimErrors.push(String(e.message))});
window.addEventListener('load',function(){var ok=0,figs=document.querySelectorAll('figure.chart');
figs.forEach(function(f){var s=f.querySelector('svg');var r=s?s.getBoundingClientRect():{width:0,height:0};
var v=!!s&&r.width>50&&r.height>50&&getComputedStyle(f).visibility!=='hidden'&&getComputedStyle(f).display!=='none';
f.setAttribute('data-rendered',v?(Math.round(r.width)+'x'+Math.round(r.height)):'no');if(v)ok++;});
document.body.setAttribute('data-charts',figs.length);document.body.setAttribute('data-visible',ok);
document.body.setAttribute('data-errors',window.cardsimErrors.length);});
</script>"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title><style>{_STYLE}</style></head><body>{body}{_CHECK}</body></html>\n")


def _table(headers, rows) -> str:
    h = "".join(f"<th>{html.escape(str(x))}</th>" for x in headers)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


# --- run report ------------------------------------------------------------------------------------

def run_report(path: str | Path) -> str:
    conn = open_log(path)
    try:
        run = read_run(conn, path)
        if not run.get("summary_json"):
            raise CardsimError(f"{path}: the run did not complete (no summary): nothing to report")
        summary = json.loads(run["summary_json"])
        metrics = conn.execute("SELECT hour, metric, key, value FROM metrics ORDER BY hour").fetchall()
    except (sqlite3.Error, ValueError) as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
    finally:
        conn.close()
    series: dict[tuple[str, str], dict[int, float]] = {}
    for h, m, k, v in metrics:
        series.setdefault((m, k), {})[h] = v
    hours = sorted({h for h, *_ in metrics}) or [0]
    plt = _plt()
    s = summary
    charts = []

    def lines(title, metric, keys, ylabel, note=""):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        for k in keys:
            d = series.get((metric, k), {})
            ax.plot(hours, [d.get(h, 0.0) for h in hours], label=k, linewidth=1.4)
        ax.set_xlabel("simulated hour")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7, ncol=4, frameon=False)
        ax.grid(alpha=0.3)
        charts.append(_chart(title, _svg(fig), note))

    tp_keys = sorted({k for (m, k) in series if m == "transactions"})
    lines("Throughput per hour, by channel and province", "transactions", tp_keys, "transactions / h")
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8), sharex=True)
    for ax, t in zip(axes, ("metro", "bus", "scenic_gate", "gov_window")):
        for q, style in (("wait_p50", ":"), ("wait_p95", "-"), ("wait_p99", "--")):
            d = series.get((q, t), {})
            ax.plot(hours, [d.get(h, 0.0) for h in hours], style, label=q[5:], linewidth=1.2)
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("hour")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("wait (s)")
    axes[0].legend(fontsize=7, frameon=False)
    charts.append(_chart("Waiting time percentiles over time, by service point type", _svg(fig)))
    util_keys = sorted({k for (m, k) in series if m == "utilisation"})
    lines("Node utilisation over time (time-weighted)", "utilisation", util_keys, "busy share")
    fig, ax = plt.subplots(figsize=(9, 2.8))
    reasons = s["declined_by_reason"] or {"(none)": 0}
    ax.barh(list(reasons), list(reasons.values()), color="#c0504d")
    ax.set_xlabel("declined transactions")
    charts.append(_chart("Declines by reason", _svg(fig)))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 2.8))
    gross = s["clearing"]["gross_fen"]
    a1.bar(list(gross), [v / 100 for v in gross.values()], color="#4f81bd")
    a1.set_ylabel("yuan")
    a1.set_title("gross cross-province flows", fontsize=9)
    net = s["clearing"]["net_yuan"]
    a2.bar(list(net), list(net.values()), color=["#9bbb59" if v >= 0 else "#c0504d" for v in net.values()])
    a2.axhline(0, color="#444", linewidth=0.8)
    a2.set_title("net position (positive: receives)", fontsize=9)
    charts.append(_chart("Cross-province flows and net clearing", _svg(fig)))
    fig, ax = plt.subplots(figsize=(9, 2.6))
    d = series.get(("blacklist_exposure_fen", "all"), {})
    ax.bar(hours, [d.get(h, 0.0) / 100 for h in hours], color="#f79646")
    ax.set_xlabel("simulated hour")
    ax.set_ylabel("yuan")
    be = s["blacklist_exposure"]
    charts.append(_chart("Blacklist exposure over time", _svg(fig),
                         f"{be['transactions']} approved transactions worth {be['amount_fen'] / 100:.2f} "
                         f"yuan on {be['cards']} cards already reported lost"))

    rows = [[f"channel {c}", b["transactions"], b["per_hour"], b["approved"], b["declined"],
             f"{b['decline_rate']:.2%}", f"{b['approved_fen'] / 100:,.2f}"] for c, b in s["by_channel"].items()]
    rows += [[f"province {p}", b["transactions"], b["per_hour"], b["approved"], b["declined"],
              f"{b['decline_rate']:.2%}", f"{b['approved_fen'] / 100:,.2f}"] for p, b in s["by_province"].items()]
    waits = [[t, w["count"], w["mean"], w["p50"], w["p95"], w["p99"], w["max"], s["balked"][t],
              s.get("queue_length", {}).get(t, "")] for t, w in s["waits"].items()]
    util = [[k, f"{v:.1%}"] for k, v in list(s["utilisation"]["service_points"].items())
            + list(s["utilisation"]["issuers"].items()) + [("hub", s["utilisation"]["hub"])]]
    body = (f"<h1>cardsim run report: {html.escape(s['scenario'])}</h1>"
            f'<p class="meta">log {html.escape(str(path))} · seed {s["seed"]} · scale {s["scale"]:g} · '
            f"{s['sim_hours']:g} simulated hours (warm-up {s['warmup_hours']:g} h) · "
            f"{s['transactions']:,} transactions · cardsim {html.escape(str(run.get('cardsim_version')))} · "
            f"{'signed (' + html.escape(str(run.get('algorithm'))) + ')' if run.get('signed') else 'unsigned'}</p>"
            "<h2>Summary</h2>"
            + _table(["", "transactions", "per hour", "approved", "declined", "decline rate", "approved yuan"], rows)
            + _table(["service point", "count", "mean wait s", "p50", "p95", "p99", "max", "balked",
                      "mean queue"], waits)
            + _table(["node", "utilisation"], util)
            + "<h2>Charts</h2>" + "".join(charts))
    return _page(f"cardsim report: {s['scenario']}", body)


# --- sweep report ----------------------------------------------------------------------------------

def sweep_report(result: dict, source: str) -> str:
    from cardsim.planning.sweep import TABLE_METRICS
    plt = _plt()
    combos = result["combinations"]
    keys = list(result["swept"])
    if len(keys) == 1:
        xs = result["swept"][keys[0]]
        xlabel = keys[0]
        numeric = all(isinstance(x, (int, float)) for x in xs)
    else:
        xs = list(range(len(combos)))
        xlabel = "combination"
        numeric = True
    charts = []
    for m in TABLE_METRICS:
        fig, ax = plt.subplots(figsize=(6, 2.8))
        mean = [c["metrics"][m]["mean"] for c in combos]
        lo = [c["metrics"][m]["ci_low"] for c in combos]
        hi = [c["metrics"][m]["ci_high"] for c in combos]
        pos = xs if numeric else list(range(len(xs)))
        ax.fill_between(pos, lo, hi, alpha=0.25, color="#4f81bd", label="95% CI")
        ax.plot(pos, mean, "o-", color="#1f4e79", label="mean")
        if not numeric:
            ax.set_xticks(pos, [str(x) for x in xs])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
        charts.append(_chart(f"{m} against {xlabel}", _svg(fig)))
    rows = []
    for i, c in enumerate(combos):
        label = ", ".join(f"{k}={v}" for k, v in c["set"].items()) or "base"
        rows.append([f"{i}: {label}"] + [f"{c['metrics'][m]['mean']:.4g} ± "
                                         f"{(c['metrics'][m]['ci_high'] - c['metrics'][m]['ci_low']) / 2:.2g}"
                                         for m in TABLE_METRICS])
    body = (f"<h1>cardsim sweep report: {html.escape(result['scenario'])}</h1>"
            f'<p class="meta">{html.escape(source)} · base seed {result["base_seed"]} · '
            f"{len(combos)} combinations × {result['replications']} replications · scale {result['scale']:g}</p>"
            "<h2>Means with 95% confidence intervals</h2>" + _table(["combination", *TABLE_METRICS], rows)
            + "<h2>Charts</h2>" + "".join(charts))
    return _page(f"cardsim sweep report: {result['scenario']}", body)


def write_report(src: str | Path, out: str | Path | None = None) -> Path:
    """Write the report for a log (.db) or a sweep result (.json); returns the file written."""
    src = Path(src)
    if src.suffix.lower() == ".json":
        from cardsim.planning.sweep import load_sweep
        page = sweep_report(load_sweep(src), str(src))
    else:
        page = run_report(src)
    out = Path(out) if out else src.with_suffix(".html")
    if not out.parent.exists():
        raise CardsimError(f"-o {out}: directory {out.parent} does not exist")
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out

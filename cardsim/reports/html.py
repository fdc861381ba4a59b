"""HTML reports: one self-contained file per run log or sweep result, working offline.

Charts are drawn with matplotlib and inlined as SVG; there is no script from elsewhere, no font
or style sheet to fetch. A small inline script marks each chart element with its rendered size
(``data-rendered``), which the browser test reads.

Run report: scenario and seed, the summary table, throughput per hour per channel and province,
waiting percentiles over time per service point type, node utilisation over time, declines by
reason, cross-province flows and net clearing, blacklist exposure over time.
Sweep report: each key metric against the swept value, with its 95% confidence band.

A log is untrusted input. Every text in the page is escaped (control and format characters
shown as escapes, then ``html.escape``), chart labels are drawn the same way without mathtext, and the figures say whose word they are: transactions, approvals,
declines by reason and approved amounts per channel and province are recomputed from the log's
records (the signed records ``cardsim verify`` checks), and a run summary figure that disagrees
with them is shown as a warning; everything else comes from ``runs.summary_json`` and the
``metrics`` table, which nobody signs, and is labelled as the run's unverified summary. A summary
that is not the documented shape is exit 2, one line naming ``runs.summary_json``.
"""

from __future__ import annotations

import html
import io
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cardsim.config.schema import SERVICE_TYPES
from cardsim.files import refuse_link, write_new
from cardsim.errors import CardsimError, one_line
from cardsim.log.store import open_log, read_run
from cardsim.config.metrics import TABLE_METRICS
from cardsim.planning.sweep import load_sweep
from cardsim.records.record import APPROVED
from cardsim.reports.text import inert


def _esc(value: object) -> str:
    """``value`` as HTML text: control and format characters shown as escapes (:func:`inert`: no
    bidi override or raw control reaches the page), then HTML-escaped."""
    return html.escape(inert(value))


def _plt():
    """matplotlib's pyplot, set up for reports.

    Imported here, not at the top: ``import matplotlib.pyplot`` takes about a second (measured
    with ``python -X importtime``) and only writing a report needs it, not ``import cardsim``.
    """
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "cardsim", "figure.dpi": 96, "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False,
                                "text.parse_math": False, "text.usetex": False})
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    """The figure as inline SVG (the figure is closed)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _chart(title: str, svg: str, note: str = "") -> str:
    return (f'<figure class="chart" data-chart="{_esc(title)}"><figcaption>'
            f"{_esc(title)}</figcaption>{svg}"
            + (f'<p class="note">{_esc(note)}</p>' if note else "") + "</figure>")


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.meta{color:#555;font-size:13px}
figure.chart{margin:16px 0;padding:8px;border:1px solid #eee}figcaption{font-weight:600;margin-bottom:6px}
figure.chart svg{max-width:100%;height:auto}.note{color:#666;font-size:12px}
.label{font-size:13px;padding:4px 8px;border-left:4px solid}.verified{border-color:#9bbb59;background:#f3f8ea}
.unverified{border-color:#f79646;background:#fdf3ea}.warning{color:#9c2a00;font-weight:600;font-size:13px}
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
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}'
            f"</title><style>{_STYLE}</style></head><body>{body}{_CHECK}</body></html>\n")


def _table(headers, rows) -> str:
    h = "".join(f"<th>{_esc(str(x))}</th>" for x in headers)
    b = "".join("<tr>" + "".join(f"<td>{_esc(str(x))}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


# --- run report ------------------------------------------------------------------------------------

@dataclass
class _Series:
    """The log's ``metrics`` table as time series: (metric, key) -> {hour: value}."""

    by_key: dict[tuple[str, str], dict[int, float]]
    hours: list[int]

    @classmethod
    def of(cls, metrics: list[tuple]) -> "_Series":
        by_key: dict[tuple[str, str], dict[int, float]] = {}
        for h, m, k, v in metrics:
            by_key.setdefault((m, k), {})[h] = v
        return cls(by_key, sorted({h for h, *_ in metrics}) or [0])

    def values(self, metric: str, key: str) -> list[float]:
        d = self.by_key.get((metric, key), {})
        return [d.get(h, 0.0) for h in self.hours]

    def keys(self, metric: str) -> list[str]:
        return sorted({k for (m, k) in self.by_key if m == metric})


#: Most distinct (channel, province, outcome, reason) groups in a log's records; each text is
#: cut to :data:`_GROUP_TEXT` characters. A run has a few dozen: more is not a cardsim log.
MAX_GROUPS = 10_000
_GROUP_TEXT = 64
_RECOUNT_SQL = (f"SELECT substr(channel, 1, {_GROUP_TEXT}), substr(terminal_province, 1, {_GROUP_TEXT}), "
                f"substr(outcome, 1, {_GROUP_TEXT}), substr(reason, 1, {_GROUP_TEXT}), count(*), "
                f"total(CASE WHEN outcome = '{APPROVED}' THEN amount_fen ELSE 0 END) "
                f"FROM transactions GROUP BY 1, 2, 3, 4 LIMIT {MAX_GROUPS + 1}")
_COUNTS = ("transactions", "approved", "declined", "approved_fen")


@dataclass
class _Recount:
    """Figures recomputed from the log's records: per (group, name) the counts of
    :data:`_COUNTS`, and declines by reason."""

    buckets: dict[tuple[str, str], dict] = field(default_factory=dict)
    declined_by_reason: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[tuple]) -> "_Recount":
        """From (channel, terminal province, outcome, reason, count, approved fen) groups."""
        r = cls()
        for channel, province, outcome, reason, n, fen in rows:
            approved = outcome == APPROVED
            for key in (("channel", str(channel)), ("province", str(province))):
                b = r.buckets.setdefault(key, dict.fromkeys(_COUNTS, 0))
                b["transactions"] += n
                b["approved" if approved else "declined"] += n
                b["approved_fen"] += fen
            if not approved:
                r.declined_by_reason[str(reason)] = r.declined_by_reason.get(str(reason), 0) + n
        return r

    def names(self, group: str) -> list[str]:
        return sorted(n for g, n in self.buckets if g == group)


def run_report(path: str | Path) -> str:
    """The HTML report of a run log: figures recomputed from its records, its (unverified)
    summary tables and charts of its metrics."""
    run, s, metrics, recount = _read_log(path)
    try:
        return _run_page(path, run, s, _Series.of(metrics), recount)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise CardsimError(f"{path}: runs.summary_json is not a run summary (docs/summary.md): "
                           f"{type(e).__name__}: {one_line(e)[:200]}") from None


def _run_page(path: str | Path, run: dict, s: dict, series: "_Series", recount: _Recount) -> str:
    plt = _plt()
    charts = [
        _lines(plt, series, "Throughput per hour, by channel and province", "transactions", "transactions / h"),
        _waits_chart(plt, series),
        _lines(plt, series, "Node utilisation over time (time-weighted)", "utilisation", "busy share"),
        _declines_chart(plt, recount.declined_by_reason),
        _clearing_chart(plt, s),
        _exposure_chart(plt, series, s),
    ]
    warnings = "".join(f'<p class="warning">Warning: {_esc(w)}</p>' for w in _mismatches(s, recount))
    body = (f"<h1>cardsim run report: {_esc(str(s['scenario']))}</h1>" + _run_meta(path, run, s)
            + "<h2>Recomputed from the log's records</h2>" + _VERIFIED + warnings + _recount_tables(recount)
            + "<h2>The run's summary (unverified)</h2>" + _UNVERIFIED + _summary_tables(s)
            + "<h2>Charts</h2>" + _CHARTS_LABEL + "".join(charts))
    return _page(f"cardsim report: {s['scenario']}", body)


_VERIFIED = ('<p class="label verified" data-figures="records">Counted from the log\'s records: the '
             "signed records <code>cardsim verify</code> checks (run it to know they are intact).</p>")
_UNVERIFIED = ('<p class="label unverified" data-figures="summary">Unverified: the run\'s own summary '
               "(<code>runs.summary_json</code>), the log owner's word, neither signed nor checked by "
               "<code>cardsim verify</code>.</p>")
_CHARTS_LABEL = ('<p class="label unverified" data-figures="summary">Unverified: drawn from the run\'s '
                 "<code>metrics</code> table and summary, except <em>Declines by reason</em>, "
                 "recomputed from the records.</p>")


def _read_log(path: str | Path) -> tuple[dict, dict, list[tuple], _Recount]:
    """(the run row, the summary, the metrics rows, the records' recount) of a completed run's log."""
    conn = open_log(path)
    try:
        run = read_run(conn, path)
        if not run.get("summary_json"):
            raise CardsimError(f"{path}: the run did not complete (no summary): nothing to report")
        summary = json.loads(run["summary_json"])
        metrics = conn.execute("SELECT hour, metric, key, value FROM metrics ORDER BY hour").fetchall()
        groups = conn.execute(_RECOUNT_SQL).fetchall()
    except (sqlite3.Error, ValueError) as e:
        raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
    finally:
        conn.close()
    if len(groups) > MAX_GROUPS:
        raise CardsimError(f"{path}: transactions: more than {MAX_GROUPS:,} distinct (channel, "
                           "terminal_province, outcome, reason): not a cardsim log")
    return run, summary, metrics, _Recount.of(groups)


def _mismatches(s: dict, recount: _Recount) -> list[str]:
    """Each figure of the summary that the records contradict, as one sentence."""
    out = []
    for group in ("channel", "province"):
        claimed = s[f"by_{group}"]
        for name in sorted(set(map(str, claimed)) | set(recount.names(group))):
            mine = recount.buckets.get((group, name), {})
            theirs = claimed.get(name, {})
            out += [f"{group} {name}, {k}: the summary says {theirs.get(k, 0)}, the records give "
                    f"{mine.get(k, 0):g}" for k in _COUNTS if theirs.get(k, 0) != mine.get(k, 0)]
    claimed = {str(k): v for k, v in s["declined_by_reason"].items()}
    for reason in sorted(set(claimed) | set(recount.declined_by_reason)):
        theirs, mine = claimed.get(reason, 0), recount.declined_by_reason.get(reason, 0)
        if theirs != mine:
            out.append(f"declined for {reason}: the summary says {theirs}, the records give {mine}")
    return out


def _recount_tables(r: _Recount) -> str:
    rows = [[f"{group} {name}", b["transactions"], b["approved"], b["declined"],
             f"{b['approved_fen'] / 100:,.2f}"]
            for group in ("channel", "province") for name in r.names(group)
            for b in (r.buckets[(group, name)],)]
    reasons = [[k, v] for k, v in sorted(r.declined_by_reason.items())]
    return (_table(["", "transactions", "approved", "declined", "approved yuan"], rows)
            + _table(["decline reason", "declined"], reasons))


def _lines(plt, series: _Series, title: str, metric: str, ylabel: str) -> str:
    """One line per key of ``metric`` over the simulated hours."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for k in series.keys(metric):
        ax.plot(series.hours, series.values(metric, k), label=inert(k), linewidth=1.4)
    ax.set_xlabel("simulated hour")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, ncol=4, frameon=False)
    ax.grid(alpha=0.3)
    return _chart(title, _svg(fig))


def _waits_chart(plt, series: _Series) -> str:
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.8), sharex=True)
    for ax, t in zip(axes, SERVICE_TYPES):
        for q, style in (("wait_p50", ":"), ("wait_p95", "-"), ("wait_p99", "--")):
            ax.plot(series.hours, series.values(q, t), style, label=q[5:], linewidth=1.2)
        ax.set_title(t, fontsize=9)
        ax.set_xlabel("hour")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("wait (s)")
    axes[0].legend(fontsize=7, frameon=False)
    return _chart("Waiting time percentiles over time, by service point type", _svg(fig))


def _declines_chart(plt, declined_by_reason: dict[str, int]) -> str:
    fig, ax = plt.subplots(figsize=(9, 2.8))
    reasons = declined_by_reason or {"(none)": 0}
    ax.barh([inert(r) for r in reasons], list(reasons.values()), color="#c0504d")
    ax.set_xlabel("declined transactions")
    return _chart("Declines by reason", _svg(fig))


def _clearing_chart(plt, s: dict) -> str:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 2.8))
    gross = s["clearing"]["gross_fen"]
    a1.bar([inert(k) for k in gross], [v / 100 for v in gross.values()], color="#4f81bd")
    a1.set_ylabel("yuan")
    a1.set_title("gross cross-province flows", fontsize=9)
    net = s["clearing"]["net_yuan"]
    a2.bar([inert(k) for k in net], list(net.values()), color=["#9bbb59" if v >= 0 else "#c0504d" for v in net.values()])
    a2.axhline(0, color="#444", linewidth=0.8)
    a2.set_title("net position (positive: receives)", fontsize=9)
    return _chart("Cross-province flows and net clearing", _svg(fig))


def _exposure_chart(plt, series: _Series, s: dict) -> str:
    fig, ax = plt.subplots(figsize=(9, 2.6))
    ax.bar(series.hours, [v / 100 for v in series.values("blacklist_exposure_fen", "all")], color="#f79646")
    ax.set_xlabel("simulated hour")
    ax.set_ylabel("yuan")
    be = s["blacklist_exposure"]
    return _chart("Blacklist exposure over time", _svg(fig),
                  f"{be['transactions']} approved transactions worth {be['amount_fen'] / 100:.2f} "
                  f"yuan on {be['cards']} cards already reported lost")


def _run_meta(path: str | Path, run: dict, s: dict) -> str:
    signed = f"signed ({run.get('algorithm')})" if run.get("signed") else "unsigned"
    text = (f"log {path} · seed {s['seed']} · scale {s['scale']:g} · {s['sim_hours']:g} simulated "
            f"hours (warm-up {s['warmup_hours']:g} h) · {s['transactions']:,} transactions "
            f"(summary) · cardsim {run.get('cardsim_version')} · {signed}")
    return f'<p class="meta">{_esc(text)}</p>'


def _summary_tables(s: dict) -> str:
    rows = [[f"{group} {name}", b["transactions"], b["per_hour"], b["approved"], b["declined"],
             f"{b['decline_rate']:.2%}", f"{b['approved_fen'] / 100:,.2f}"]
            for group, buckets in (("channel", s["by_channel"]), ("province", s["by_province"]))
            for name, b in buckets.items()]
    waits = [[t, w["count"], w["mean"], w["p50"], w["p95"], w["p99"], w["max"], s["balked"][t],
              s.get("queue_length", {}).get(t, "")] for t, w in s["waits"].items()]
    u = s["utilisation"]
    util = [[k, f"{v:.1%}"] for k, v in list(u["service_points"].items()) + list(u["issuers"].items())
            + [("hub", u["hub"])]]
    return (_table(["", "transactions", "per hour", "approved", "declined", "decline rate", "approved yuan"], rows)
            + _table(["service point", "count", "mean wait s", "p50", "p95", "p99", "max", "balked",
                      "mean queue"], waits)
            + _table(["node", "utilisation"], util))


# --- sweep report ----------------------------------------------------------------------------------

def sweep_report(result: dict, source: str) -> str:
    """The HTML report of a sweep result: each key metric against the swept values, with its CI."""
    plt = _plt()
    combos = result["combinations"]
    xs, xlabel, numeric = _sweep_axis(result)
    charts = [_sweep_chart(plt, combos, m, xs, xlabel, numeric) for m in TABLE_METRICS]
    rows = []
    for i, c in enumerate(combos):
        label = ", ".join(f"{k}={v}" for k, v in c["set"].items()) or "base"
        rows.append([f"{i}: {label}"] + [f"{c['metrics'][m]['mean']:.4g} ± "
                                         f"{(c['metrics'][m]['ci_high'] - c['metrics'][m]['ci_low']) / 2:.2g}"
                                         for m in TABLE_METRICS])
    meta = (f"{source} · base seed {result['base_seed']} · {len(combos)} combinations × "
            f"{result['replications']} replications · scale {result['scale']:g}")
    body = (f"<h1>cardsim sweep report: {_esc(str(result['scenario']))}</h1>"
            f'<p class="meta">{_esc(meta)}</p>'
            "<h2>Means with 95% confidence intervals</h2>" + _table(["combination", *TABLE_METRICS], rows)
            + "<h2>Charts</h2>" + "".join(charts))
    return _page(f"cardsim sweep report: {result['scenario']}", body)


def _sweep_axis(result: dict) -> tuple[list, str, bool]:
    """(x values, x label, numeric?): the swept values of one key, else the combination index."""
    keys = list(result["swept"])
    if len(keys) == 1:
        xs = result["swept"][keys[0]]
        return xs, keys[0], all(isinstance(x, (int, float)) for x in xs)
    return list(range(len(result["combinations"]))), "combination", True


def _sweep_chart(plt, combos: list[dict], m: str, xs: list, xlabel: str, numeric: bool) -> str:
    fig, ax = plt.subplots(figsize=(6, 2.8))
    mean = [c["metrics"][m]["mean"] for c in combos]
    lo = [c["metrics"][m]["ci_low"] for c in combos]
    hi = [c["metrics"][m]["ci_high"] for c in combos]
    pos = xs if numeric else list(range(len(xs)))
    ax.fill_between(pos, lo, hi, alpha=0.25, color="#4f81bd", label="95% CI")
    ax.plot(pos, mean, "o-", color="#1f4e79", label="mean")
    if not numeric:
        ax.set_xticks(pos, [inert(x) for x in xs])
    ax.set_xlabel(inert(xlabel))
    ax.set_ylabel(m)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    return _chart(f"{m} against {xlabel}", _svg(fig))


def write_report(src: str | Path, out: str | Path | None = None) -> Path:
    """Write the report for a log (.db) or a sweep result (.json); returns the file written."""
    src = Path(src)
    if src.suffix.lower() == ".json":
        page = sweep_report(load_sweep(src), str(src))
    else:
        page = run_report(src)
    out = Path(out) if out else src.with_suffix(".html")
    if not out.parent.exists():
        raise CardsimError(f"-o {out}: directory {out.parent} does not exist")
    # the page goes to a new temporary file, then replaces ``out``: neither is ever written
    # through a symbolic link (a planted link is refused, not followed)
    tmp = out.with_name(out.name + ".partial")
    refuse_link(out, "report")
    refuse_link(tmp, "report")
    tmp.unlink(missing_ok=True)              # a stale one from an interrupted report
    write_new(tmp, page.encode("utf-8"), 0o644, "report")
    tmp.replace(out)
    return out

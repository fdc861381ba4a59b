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

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cardsim.files import refuse_link, write_new
from cardsim.errors import CardsimError, one_line
from cardsim.log.store import open_log, read_run
from cardsim.planning.sweep import load_sweep
from cardsim.records.record import APPROVED
from cardsim.reports import run_charts as charts_mod
from cardsim.reports.page import _CHECK, _esc, _page, _plt, _table  # noqa: F401 (_CHECK: the page's own script)
from cardsim.reports.run_panels import province_panels, run_thresholds
from cardsim.reports.sweep_html import sweep_report


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
    cfg = _config(run)
    start = float(cfg.get("simulation", {}).get("start_hour", 0.0))
    charts = [
        charts_mod.throughput_chart(plt, series, start),
        charts_mod.waits_chart(plt, series, start),
        charts_mod.utilisation_chart(plt, series, start),
        charts_mod.declines_chart(plt, recount.declined_by_reason),
        charts_mod.clearing_chart(plt, s),
        charts_mod.exposure_chart(plt, series, s, start),
    ]
    warnings = "".join(f'<p class="warning">Warning: {_esc(w)}</p>' for w in _mismatches(s, recount))
    body = (f"<h1>cardsim run report: {_esc(str(s['scenario']))}</h1>" + _run_meta(path, run, s)
            + run_thresholds(cfg, s)
            + "<h2>Recomputed from the log's records</h2>" + _VERIFIED + warnings + _recount_tables(recount)
            + "<h2>The run's summary (unverified)</h2>" + _UNVERIFIED + _summary_tables(s)
            + province_panels(s)
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


def _config(run: dict) -> dict:
    """The run's effective configuration (``runs.config_json``), or {} when unreadable."""
    try:
        cfg = json.loads(run.get("config_json") or "{}")
    except (ValueError, TypeError):
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _sets(run: dict) -> str:
    try:
        sets = json.loads(run.get("sets_json") or "[]")
    except (ValueError, TypeError):
        return "(unreadable)"
    return ", ".join(map(str, sets)) if isinstance(sets, list) and sets else "none"


def _run_meta(path: str | Path, run: dict, s: dict) -> str:
    signed = f"signed ({run.get('algorithm')})" if run.get("signed") else "unsigned"
    text = (f"log {path} · seed {s['seed']} · scale {s['scale']:g} · --set {_sets(run)} · "
            f"{s['sim_hours']:g} simulated hours (warm-up {s['warmup_hours']:g} h) · "
            f"{s['transactions']:,} transactions (summary) · cardsim {run.get('cardsim_version')} · {signed}")
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


def write_report(src: str | Path, out: str | Path | None = None) -> Path:
    """Write the report for a log (.db) or a sweep result (.json); returns the file written."""
    src = Path(src)
    if src.suffix.lower() == ".json":
        try:
            page = sweep_report(load_sweep(src), str(src))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise CardsimError(f"{src}: not a sweep result (`cardsim sweep --json` output): "
                               f"{type(e).__name__}: {one_line(e)[:200]}") from None
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

"""Text renderings for the terminal: run summaries, thresholds and check reports (verify, replay,
sweep), as rich tables.

Text from a log (scenario names, card, terminal and transaction ids, reasons, file names) is
attacker-controlled: it never becomes markup or a terminal control. Every value printed goes
through :func:`inert` (non-printable characters shown as escapes) and, inside rich output,
:func:`markup` (rich markup such as ``[bold]`` or ``[link=...]`` escaped); table cells are
escaped by :func:`_row`, so only this module's own styles (:class:`rich.text.Text`) are styled.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cardsim.config.metrics import metric_unit
from cardsim.config.schema import SERVICE_TYPES
from cardsim.domain import CHANNELS, PROVINCES
from cardsim.reports.sweep_view import (combination_label, mean_ci, plain, shown_metrics,
                                        threshold_metrics, wrap_name, zero_throughout)

PASS, FAIL = Text("pass", style="green"), Text("FAIL", style="red")


def inert(value: object) -> str:
    """``value`` as text that cannot act on a terminal: every character that is not printable
    (C0 and C1 controls such as ESC, CR and backspace; bidi overrides and other format
    characters; lone surrogates from undecodable bytes) is shown as its Python escape, e.g.
    ``\\x1b`` or ``\\u202e``."""
    s = str(value)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in s)


def markup(value: object) -> str:
    """``value`` for rich output: :func:`inert`, with rich markup escaped (``[red]`` prints as is)."""
    return escape(inert(value))


def _row(t: Table, *cells: object) -> None:
    """Add a row; every cell but this module's own :class:`Text` is escaped (:func:`markup`)."""
    t.add_row(*(c if isinstance(c, Text) else markup(c) for c in cells))


def _table(title: str | None, columns: tuple[str, ...], left: tuple[str, ...] = ()) -> Table:
    """A table with its title on the left; the columns named in ``left`` align left, the rest right.

    Nothing is cut to fit the terminal (80 columns in a pipe): a text column folds a long name
    onto the next line within its cell; a number column never wraps and is at least as wide as its
    header. Full names and values are in ``--json``.
    """
    t = Table(title=title, title_justify="left")
    for col in columns:
        if col in left:
            t.add_column(col, justify="left", overflow="fold")
        else:
            t.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    return t


# --- run summary ----------------------------------------------------------------------------

def render_summary(summary: dict, console: Console) -> None:
    """Print a run summary (``docs/summary.md``) as rich tables."""
    s = summary
    console.print(f"[bold]{markup(s['scenario'])}[/bold]  seed {markup(s['seed'])}  scale {s['scale']:g}  "
                  f"{s['sim_hours']:g} simulated hours  {s['transactions']:,} transactions in "
                  f"{s['wall_seconds']:.1f} s wall ({(s['transactions_per_second'] or 0):,.0f}/s)")
    console.print(_transactions_table(s))
    if s["declined_by_reason"]:
        t = _table("Declines by reason", ("reason", "count"), left=("reason",))
        for r, n in s["declined_by_reason"].items():
            _row(t, r, f"{n:,}")
        console.print(t)
    console.print(_waits_table(s))
    if isinstance(s.get("scopes"), dict):
        for p in PROVINCES:
            console.print(_province_table(s["scopes"], p))
    console.print(_utilisation_table(s["utilisation"]))
    _print_clearing_and_exposure(s, console)


def _transactions_table(s: dict) -> Table:
    # approved = transactions - declined (both in --json); left out so the table fits 80 columns
    t = _table("Transactions (by channel, then by terminal province)",
               ("", "transactions", "per hour", "declined", "declined %", "approved yuan"), left=("",))
    for rows in (s["by_channel"], s["by_province"]):
        for name, b in rows.items():
            _row(t, name, f"{b['transactions']:,}", f"{b['per_hour']:,.0f}", f"{b['declined']:,}",
                 f"{b['decline_rate']:.2%}", f"{b['approved_fen'] / 100:,.2f}")
    return t


def _waits_table(s: dict) -> Table:
    t = _table("Waiting time at service points (s)",
               ("service point", "count", "mean", "p50", "p95", "p99", "max", "balked"),
               left=("service point",))
    for name, w in s["waits"].items():
        _row(t, name, f"{w['count']:,}", *(f"{w[q]:.2f}" for q in ("mean", "p50", "p95", "p99", "max")),
                  f"{s['balked'][name]:,}")
    for name, w in s["issuer_latency"].items():
        _row(t, f"{name} auth latency", f"{w['count']:,}",
                  *(f"{w[q]:.3f}" for q in ("mean", "p50", "p95", "p99", "max")), "")
    return t


def _province_table(scopes: dict, p: str) -> Table:
    """A province's service point types in use: the day's p95 wait (s), the peak hour and its p95
    wait, utilisation over the day and in its busiest hour (``max h``), balks (every point's
    figures: ``--json``, ``scopes``)."""
    t = _table(f"{p}: the day after warm-up; peak: the busiest hour",
               ("type", "p95 s", "peak", "peak p95", "busy", "max h", "balked"), left=("type",))
    t.columns[0].min_width = max(len(x) for x in SERVICE_TYPES)
    for name, sc in scopes.items():
        if name.startswith(f"{p}.") and name.count(".") == 1 and sc["day"]["wait"]["count"]:
            d, pk = sc["day"], sc["peak"]
            _row(t, name.partition(".")[2], plain(d["wait"]["p95"]), pk["window"] or "-",
                 plain(pk["wait"]["p95"]), f"{d['utilisation']:.1%}",
                 f"{d['utilisation_max_hour']:.1%}", f"{d['balked']:,}")
    return t


def _utilisation_table(u: dict) -> Table:
    t = _table("Utilisation", ("node", "busy"), left=("node",))
    for name, v in list(u["service_points"].items()) + list(u["issuers"].items()) + [("hub", u["hub"])]:
        _row(t, name, f"{v:.1%}")
    return t


def _print_clearing_and_exposure(s: dict, console: Console) -> None:
    c = s["clearing"]
    flows = ", ".join(f"{markup(k)} {v / 100:,.2f} yuan ({c['transactions'][k]:,} tx)"
                      for k, v in c["gross_fen"].items())
    net = ", ".join(f"{markup(p)} {v:+,.2f}" for p, v in c["net_yuan"].items())
    console.print(f"[bold]Cross-province clearing[/bold]: {flows}; net position (yuan): {net}")
    b = s["blacklist_exposure"]
    console.print(f"[bold]Blacklist exposure[/bold]: {b['transactions']:,} approved transactions worth "
                  f"{b['amount_fen'] / 100:,.2f} yuan on {b['cards']:,} cards already reported lost "
                  f"({b['cards_reported_lost']:,} reported)")


def render_thresholds(checks: list[dict], console: Console, bound: str = "value") -> None:
    """Pass/fail per threshold (a sweep passes ``bound`` = the confidence bound it tested)."""
    if not checks:
        return
    t = _table("Thresholds", ("metric", "threshold", bound, "result"),
               left=("metric", "threshold", bound, "result"))
    for c in checks:
        _row(t, c["metric"], f"{c['op']} {c['limit']:g}", f"{c['value']:g}", PASS if c["passed"] else FAIL)
    console.print(t)


# --- verify ---------------------------------------------------------------------------------

def render_verify(out: dict, console: Console, max_findings: int = 20) -> None:
    """Print a verify report: the verdict, each check's counts, the first findings, ground truth."""
    status = "[green]OK[/green]" if out["ok"] else "[red]FAILED[/red]"
    console.print(f"[bold]verify[/bold] {markup(out['log'])}: {out['records']:,} records, "
                  f"{out['failures']:,} failures  {status}")
    if out.get("headline"):
        console.print(out['headline'], style='bold red', markup=False)
    if not out["signed"]:
        console.print("the log is unsigned (written with --no-sign): nothing can be verified")
    t = _table("Checks", ("check", "passed", "failed"), left=("check",))
    for name, c in out["checks"].items():
        _row(t, name, f"{c['passed']:,}", Text(f"{c['failed']:,}", style="red") if c["failed"] else "0")
    console.print(t)
    findings = out["findings"][:max_findings]
    if findings:
        console.print(_findings_table(findings, out["failures"]))
    if out.get("ground_truth"):
        _print_ground_truth(out["ground_truth"], console)


def _findings_table(findings: list[dict], failures: int) -> Table:
    columns = ("seq", "tx_id", "check", "reason")
    t = _table(f"Findings (first {len(findings)} of {failures:,})", columns, left=columns)
    for f in findings:
        _row(t, str(f["seq"] or "-"), f["tx_id"] or "-", f["check"], f["reason"])
    return t


def _print_ground_truth(gt: dict, console: Console) -> None:
    t = _table("Injected attacks against findings", ("attack", "injected", "detected"), left=("attack",))
    for kind, c in gt["by_attack"].items():
        _row(t, kind, str(c["injected"]), str(c["detected"]))
    console.print(t)
    console.print(f"false positives: {markup(gt['false_positives'])}")


# --- replay ---------------------------------------------------------------------------------

def render_replay(out: dict, console: Console, max_divergences: int = 20) -> None:
    """Print a replay report: the verdict, divergence counts and the first divergences."""
    status = "[green]no divergences[/green]" if not out["diverged"] else f"[red]{out['diverged']:,} divergences[/red]"
    console.print(f"[bold]replay[/bold] {markup(out['log'])} under {markup(out['scenario'])} against "
                  f"{markup('+'.join(out['against']))}: {out['replayed']:,} of {out['records']:,} records replayed "
                  f"({out['records_per_second'] or 0:,.0f}/s), {status}"
                  + ("" if out["signatures_checked"] else " (signatures not checked)"))
    if out["diverged"]:
        console.print(_divergence_counts(out))
        console.print(_divergences_table(out["divergences"][:max_divergences]))
    if "revenue_change_yuan" in out:
        _print_revenue_change(out["revenue_change_yuan"], console)
    if out.get("card_story") is not None:
        console.print(_story_table(out["card_story"][:max(max_divergences, 50)], len(out["card_story"])))


def _print_revenue_change(rc: dict, console: Console) -> None:
    """The replayed decisions' charges minus the recorded ones, per province and channel (yuan)."""
    if not rc["total"] and not any(v for p in PROVINCES for v in rc[p].values()):
        console.print("revenue: unchanged (the replayed decisions charge what was recorded)")
        return
    t = _table("Revenue change, replayed minus recorded (yuan)", ("province", *CHANNELS, "total"),
               left=("province",))
    for p in PROVINCES:
        _row(t, p, *(f"{rc[p][c]:+,.2f}" for c in CHANNELS), f"{rc[p]['total']:+,.2f}")
    if rc.get("other"):
        _row(t, "other (unreadable)", *("" for _ in CHANNELS), f"{rc['other']:+,.2f}")
    _row(t, "all", *("" for _ in CHANNELS), f"{rc['total']:+,.2f}")
    console.print(t)


def _story_table(story: list[dict], total: int) -> Table:
    columns = ("seq", "time s", "service", "terminal", "yuan", "recorded", "replayed")
    t = _table(f"The card's story: {total:,} records" + (f" (first {len(story)})" if total > len(story) else ""),
               columns, left=("service", "terminal", "recorded", "replayed"))
    for e in story:
        r, p = e["recorded"], e["replayed"]
        amount = e.get("amount_fen")
        _row(t, str(e["seq"]), f"{e['sim_time']:,.1f}" if isinstance(e.get("sim_time"), float) else str(e.get("sim_time")),
             e.get("service"), e.get("terminal_id"),
             f"{amount / 100:,.2f}" if type(amount) is int else str(amount),
             f"{r['outcome']} {r['reason'] or ''}".strip(),
             "same" if e["same"] else Text(f"{p['outcome']} {p['reason'] or ''} {p['charged_fen']} "
                                           f"({p['node']})", style="red"))
    return t


def _divergence_counts(out: dict) -> Table:
    t = _table("Divergences", ("by", "count"), left=("by",))
    for label, counts in (("kind", out["by_kind"]), ("node", out["by_node"]),
                          ("replayed reason", out["replayed_reasons"])):
        for k, v in counts.items():
            _row(t, f"{label} {k}", f"{v:,}")
    return t


def _divergences_table(rows: list[dict]) -> Table:
    columns = ("seq", "tx_id", "kind", "node", "recorded", "replayed")
    t = _table(f"First {len(rows)} divergences", columns, left=columns)
    for d in rows:
        r, p = d["recorded"], d["replayed"]
        _row(t, str(d["seq"]), d["tx_id"], d["kind"], d["node"],
                  f"{r['outcome']} {r['reason'] or ''} {r['charged_fen']}",
                  f"{p['outcome']} {p['reason'] or ''} {p['charged_fen']}")
    return t


# --- sweep ----------------------------------------------------------------------------------

def render_sweep(result: dict, console: Console) -> None:
    """Print a sweep result: the verdict, each combination named (#1, #2, ...), then the shown
    metrics (``cardsim.reports.sweep_view``) as mean ± half the 95% CI, unit in the metric's cell.

    Fits the console's width (80 columns in a pipe): long metric names wrap inside their cell,
    numbers never do, and a sweep with more combinations than fit side by side is printed as
    several tables of combinations. Full names and every metric: ``--json`` and ``--csv``.
    """
    combos = result["combinations"]
    console.print(f"[bold]sweep[/bold] {markup(result['scenario'])}: {len(combos)} combinations x "
                  f"{result['replications']} replications = {result['runs']} runs in "
                  f"{result['wall_seconds']:.1f} s (base seed {result['base_seed']}, scale "
                  f"{result['scale']:g}); mean ± 95% CI")
    if "verdict" in result:
        style = "green" if result["verdict"]["smallest"] is not None else "red"
        console.print(Text(f"verdict: {result['verdict']['text']}", style=f"bold {style}"))
    for i, combo in enumerate(combos):
        console.print(f"  #{i + 1}  {markup(combination_label(combo))}", soft_wrap=True)
    shown = shown_metrics(result)
    flat = [m for m in shown if zero_throughout(result, m) and m not in threshold_metrics(result)]
    rows = [m for m in shown if m not in flat]
    per_table = max(1, (console.width - _NAME_WIDTH - 4) // 19)
    for start in range(0, len(combos), per_table):
        console.print(_sweep_table(result, rows, range(start, min(len(combos), start + per_table))))
    if flat:
        console.print("zero in every combination: " + markup(", ".join(flat)), soft_wrap=False)
    checked = [(i, c) for i, combo in enumerate(combos) for c in combo["thresholds"]]
    if checked:
        console.print(_sweep_thresholds_table(checked))


def _sweep_table(result: dict, metrics: list[str], which: range) -> Table:
    t = Table(title_justify="left")
    t.add_column("metric (unit)", overflow="fold", min_width=_NAME_WIDTH)
    combos = result["combinations"]
    cells = {i: [mean_ci(combos[i]["metrics"][m], m) for m in metrics] for i in which}
    for i in which:
        t.add_column(f"#{i + 1}", justify="right", no_wrap=True,
                     min_width=max([len(c) for c in cells[i]] + [3]))
    for r, m in enumerate(metrics):
        lines, unit = [inert(x) for x in wrap_name(m, _NAME_WIDTH).split("\n")], f"({metric_unit(m)})"
        if len(lines[-1]) + 1 + len(unit) <= _NAME_WIDTH:
            lines[-1] += " " + unit
        else:
            lines.append(unit)
        _row(t, Text("\n".join(lines)), *(cells[i][r] for i in which))
    return t


#: The metric column of a sweep table: names longer than this break after a dot.
_NAME_WIDTH = 30


def _sweep_thresholds_table(checked: list[tuple[int, dict]]) -> Table:
    columns = ("#", "metric", "threshold", "bound", "result")
    t = _table("Thresholds (tested on the CI bound)", columns, left=("#", "metric", "result"))
    t.columns[1].overflow = "fold"
    for col in (t.columns[0], t.columns[2], t.columns[3], t.columns[4]):
        col.no_wrap = True
    for i, c in checked:
        _row(t, f"#{i + 1}", c["metric"], f"{c['op']} {plain(c['limit'])}", plain(c["value"]),
             PASS if c["passed"] else FAIL)
    return t

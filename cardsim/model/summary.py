"""The run summary: one plain dict (documented in docs/summary.md), and its rendering as tables."""

from __future__ import annotations

from cardsim.domain import CHANNELS
from cardsim.domain import PROVINCES
from cardsim.records.record import APPROVED
from cardsim.config.schema import SERVICE_TYPES
from cardsim.model.stats import Histogram


def _merged_waits(sim, stype: str):
    from cardsim.model.stats import Histogram
    h = Histogram()
    for p in PROVINCES:
        h.merge(sim.points[p][stype].waits)
    return h


def build_summary(sim) -> dict:
    span = sim.duration - sim.warmup
    hours = sim.duration / 3600.0
    total = approved = 0
    approved_fen = 0
    by_reason: dict[str, int] = {}
    by_channel = {c: {"transactions": 0, "approved": 0, "declined": 0, "approved_fen": 0} for c in CHANNELS}
    by_province = {p: {"transactions": 0, "approved": 0, "declined": 0, "approved_fen": 0} for p in PROVINCES}
    for (_h, channel, tprov, _cprov, outcome, reason), (n, fen) in sorted(
            sim.tally.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        total += n
        for bucket in (by_channel[channel], by_province[tprov]):
            bucket["transactions"] += n
            if outcome == APPROVED:
                bucket["approved"] += n
                bucket["approved_fen"] += fen
            else:
                bucket["declined"] += n
        if outcome == APPROVED:
            approved += n
            approved_fen += fen
        else:
            by_reason[reason] = by_reason.get(reason, 0) + n
    for bucket in list(by_channel.values()) + list(by_province.values()):
        bucket["per_hour"] = round(bucket["transactions"] / hours, 2) if hours else 0.0
        bucket["decline_rate"] = round(bucket["declined"] / bucket["transactions"], 6) if bucket["transactions"] else 0.0
    util_points = {f"{p}.{t}": round(sim.points[p][t].utilisation(span), 6)
                   for p in PROVINCES for t in SERVICE_TYPES if sim.points[p][t].banks}
    util_issuers = {i.issuer_id: round(i.busy / (i.servers * span), 6) if span > 0 else 0.0
                    for i in sim.issuers.values()}
    wall = getattr(sim, "wall_seconds", 0.0)
    return {
        "scenario": sim.scenario.name,
        "seed": sim.scenario.seed,
        "scale": sim.scenario.scale,
        "sim_hours": round(hours, 6),
        "warmup_hours": round(sim.warmup / 3600.0, 6),
        "transactions": total,
        "approved": approved,
        "declined": total - approved,
        "approved_fen": approved_fen,
        "declined_by_reason": dict(sorted(by_reason.items())),
        "by_channel": by_channel,
        "by_province": by_province,
        "waits": {t: _merged_waits(sim, t).summary() for t in SERVICE_TYPES},
        "balked": {t: sum(sim.points[p][t].balked for p in PROVINCES) for t in SERVICE_TYPES},
        "queue_length": {t: round(sum(sim.points[p][t].waiting.total(sim.warmup, sim.duration)
                                      for p in PROVINCES) / span, 6) if span > 0 else 0.0
                         for t in SERVICE_TYPES},
        "utilisation": {"service_points": util_points, "issuers": util_issuers,
                        "hub": round(sim.hub.busy / (sim.hub.servers * span), 6) if span > 0 else 0.0},
        "issuer_latency": {f"issuer-{p}": sim.auth_latency[p].summary() for p in PROVINCES},
        "clearing": sim.hub.clearing(),
        "blacklist_exposure": {"transactions": sim.exposure[0], "amount_fen": sim.exposure[1],
                               "cards": len(sim.exposed_cards), "cards_reported_lost": len(sim.lost)},
        "cards_transacting": {p: len(sim.population[p]) for p in PROVINCES},
        "wall_seconds": round(wall, 3),
        "transactions_per_second": round(total / wall, 1) if wall > 0 else None,
    }


def render(summary: dict, console) -> None:
    """Print a summary as rich tables."""
    from rich.table import Table

    s = summary
    console.print(f"[bold]{s['scenario']}[/bold]  seed {s['seed']}  scale {s['scale']:g}  "
                  f"{s['sim_hours']:g} simulated hours  {s['transactions']:,} transactions in "
                  f"{s['wall_seconds']:.1f} s wall ({(s['transactions_per_second'] or 0):,.0f}/s)")
    t = Table(title="Transactions", title_justify="left")
    for col in ("", "transactions", "per hour", "approved", "declined", "decline rate", "approved yuan"):
        t.add_column(col, justify="right" if col else "left")
    for group, rows in (("channel", s["by_channel"]), ("province", s["by_province"])):
        for name, b in rows.items():
            t.add_row(f"{group} {name}", f"{b['transactions']:,}", f"{b['per_hour']:,.0f}",
                      f"{b['approved']:,}", f"{b['declined']:,}", f"{b['decline_rate']:.2%}",
                      f"{b['approved_fen'] / 100:,.2f}")
    console.print(t)
    if s["declined_by_reason"]:
        t = Table(title="Declines by reason", title_justify="left")
        t.add_column("reason")
        t.add_column("count", justify="right")
        for r, n in s["declined_by_reason"].items():
            t.add_row(r, f"{n:,}")
        console.print(t)
    t = Table(title="Waiting time at service points (s)", title_justify="left")
    for col in ("service point", "count", "mean", "p50", "p95", "p99", "max"):
        t.add_column(col, justify="left" if col == "service point" else "right")
    t.add_column("balked", justify="right")
    for name, w in s["waits"].items():
        t.add_row(name, f"{w['count']:,}", f"{w['mean']:.2f}", f"{w['p50']:.2f}",
                  f"{w['p95']:.2f}", f"{w['p99']:.2f}", f"{w['max']:.2f}",
                  f"{s['balked'][name]:,}")
    for name, w in s["issuer_latency"].items():
        t.add_row(f"{name} auth latency", f"{w['count']:,}", f"{w['mean']:.3f}", f"{w['p50']:.3f}",
                  f"{w['p95']:.3f}", f"{w['p99']:.3f}", f"{w['max']:.3f}", "")
    console.print(t)
    u = s["utilisation"]
    t = Table(title="Utilisation", title_justify="left")
    t.add_column("node")
    t.add_column("busy", justify="right")
    for name, v in list(u["service_points"].items()) + list(u["issuers"].items()) + [("hub", u["hub"])]:
        t.add_row(name, f"{v:.1%}")
    console.print(t)
    c = s["clearing"]
    flows = ", ".join(f"{k} {v / 100:,.2f} yuan ({c['transactions'][k]:,} tx)" for k, v in c["gross_fen"].items())
    net = ", ".join(f"{p} {v:+,.2f}" for p, v in c["net_yuan"].items())
    console.print(f"[bold]Cross-province clearing[/bold]: {flows}; net position (yuan): {net}")
    b = s["blacklist_exposure"]
    console.print(f"[bold]Blacklist exposure[/bold]: {b['transactions']:,} approved transactions worth "
                  f"{b['amount_fen'] / 100:,.2f} yuan on {b['cards']:,} cards already reported lost "
                  f"({b['cards_reported_lost']:,} reported)")


def build_metrics(sim) -> list[tuple]:
    """The run's time series: rows (hour, metric, key, value) for the log's ``metrics`` table.

    Hours are clock-free simulated hours from the start (hour h covers [3600 h, 3600 h + 3600)).
    Metrics: transactions, approved, declined, approved_fen per ``channel/province``; decline
    counts per ``reason``; wait_p50/p95/p99 and wait_count per service point type (by arrival
    hour); utilisation (time-weighted) and queue_length (time-weighted mean) per
    ``province.type``, utilisation per issuer and of the hub; blacklist exposure (fen).
    """
    rows: dict[tuple, float] = {}

    def add(h, metric, key, v):
        rows[(h, metric, key)] = rows.get((h, metric, key), 0) + v

    for (h, channel, tprov, _c, outcome, reason), (n, fen) in sim.tally.items():
        k = f"{channel}/{tprov}"
        add(h, "transactions", k, n)
        if outcome == APPROVED:
            add(h, "approved", k, n)
            add(h, "approved_fen", k, fen)
        else:
            add(h, "declined", k, n)
            add(h, "declines", reason, n)
    hours = int(sim.duration // 3600.0) + (1 if sim.duration % 3600.0 else 0)
    for t in SERVICE_TYPES:
        merged: dict[int, Histogram] = {}
        for p in PROVINCES:
            sp = sim.points[p][t]
            for h, hist in sp.hour_waits.items():
                merged.setdefault(h, Histogram()).merge(hist)
            cap = sp.terminals * 3600.0
            for h in range(hours):
                if cap:
                    add(h, "utilisation", f"{p}.{t}", round(sum(b.hourly.sums[h] for b in sp.banks) / cap, 6))
                add(h, "queue_length", f"{p}.{t}", round(sp.waiting.sums[h] / 3600.0, 6))
        for h, hist in merged.items():
            add(h, "wait_count", t, hist.n)
            for q in (50, 95, 99):
                add(h, f"wait_p{q}", t, round(hist.percentile(q), 4))
    for i in sim.issuers.values():
        for h in range(hours):
            add(h, "utilisation", i.issuer_id, round(i.hourly.sums[h] / (i.servers * 3600.0), 6))
    for h in range(hours):
        add(h, "utilisation", "hub", round(sim.hub.hourly.sums[h] / (sim.hub.servers * 3600.0), 6))
    for h, fen in sim.exposure_hourly.items():
        add(h, "blacklist_exposure_fen", "all", fen)
    return [(h, m, k, float(v)) for (h, m, k), v in sorted(rows.items(), key=lambda x: (x[0][0], x[0][1], str(x[0][2])))]


def render_thresholds(checks: list[dict], console, bound: str = "value") -> None:
    """Pass/fail per threshold (a sweep passes ``bound`` = the confidence bound it tested)."""
    if not checks:
        return
    from rich.table import Table
    t = Table(title="Thresholds", title_justify="left")
    for col in ("metric", "threshold", bound, "result"):
        t.add_column(col)
    for c in checks:
        t.add_row(c["metric"], f"{c['op']} {c['limit']:g}", f"{c['value']:g}",
                  "[green]pass[/green]" if c["passed"] else "[red]FAIL[/red]")
    console.print(t)

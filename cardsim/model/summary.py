"""The run summary: one plain dict (documented in docs/summary.md) and the hourly metrics table."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from cardsim.domain import CHANNELS, PROVINCES
from cardsim.records.record import APPROVED
from cardsim.config.schema import SERVICE_TYPES
from cardsim.model.point_stats import histogram
from cardsim.model.scopes import column_sums, scopes, window_values
from cardsim.model.stats import Histogram, integral


def _waits(sim, service_type: str, provinces=PROVINCES) -> list:
    """The customer columns (:class:`cardsim.model.point_stats.PointWaits`) of ``service_type``."""
    return [sim.points[p][service_type].waits for p in provinces]


def _merged_waits(sim, service_type: str) -> Histogram:
    cols = [pw.columns() for pw in _waits(sim, service_type)]
    return histogram([(c, c.arrival >= sim.warmup) for c in cols])


def _by_hour(cols: list) -> dict[int, Histogram]:
    """The waits of some columns, a histogram per arrival hour."""
    hours = np.concatenate([c.hour for c in cols])
    waits = np.concatenate([c.wait for c in cols])
    buckets = np.concatenate([c.bucket for c in cols])
    order = np.argsort(hours, kind="stable")
    hours, waits, buckets = hours[order], waits[order], buckets[order]
    cuts = np.flatnonzero(np.diff(hours)) + 1
    starts = [0, *cuts.tolist()]
    ends = [*cuts.tolist(), len(hours)]
    return {int(hours[a]): Histogram.of(waits[a:b], buckets[a:b])
            for a, b in zip(starts, ends) if b > a}


def _per_span(x: float, span: float, servers: int = 1) -> float:
    """``x / (servers * span)`` rounded as the summary reports fractions (0 for an empty span)."""
    return round(x / (servers * span), 6) if span > 0 else 0.0


def _bucket() -> dict:
    return {"transactions": 0, "approved": 0, "declined": 0, "approved_fen": 0}


def _count(bucket: dict, n: int, fen: int, approved: bool) -> None:
    bucket["transactions"] += n
    if approved:
        bucket["approved"] += n
        bucket["approved_fen"] += fen
    else:
        bucket["declined"] += n


def _tally(sim) -> tuple[dict, dict, dict, dict]:
    """(totals, declines by reason, by channel, by province) from the simulation's tally."""
    totals, by_reason = _bucket(), {}
    by_channel = {c: _bucket() for c in CHANNELS}
    by_province = {p: _bucket() for p in PROVINCES}
    for (_h, channel, tprov, _cprov, outcome, reason), (n, fen) in sorted(
            sim.tally.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        approved = outcome == APPROVED
        for bucket in (totals, by_channel[channel], by_province[tprov]):
            _count(bucket, n, fen, approved)
        if not approved:
            by_reason[reason] = by_reason.get(reason, 0) + n
    return totals, by_reason, by_channel, by_province


def _add_rates(buckets: list[dict], hours: float) -> None:
    for bucket in buckets:
        bucket["per_hour"] = round(bucket["transactions"] / hours, 2) if hours else 0.0
        bucket["decline_rate"] = round(bucket["declined"] / bucket["transactions"], 6) if bucket["transactions"] else 0.0


def _utilisation(sim, span: float) -> dict:
    points = {f"{p}.{t}": round(sim.points[p][t].utilisation(span), 6)
              for p in PROVINCES for t in SERVICE_TYPES if sim.points[p][t].banks}
    issuers = {i.issuer_id: _per_span(i.busy, span, i.servers) for i in sim.issuers.values()}
    return {"service_points": points, "issuers": issuers, "hub": _per_span(sim.hub.busy, span, sim.hub.servers)}


def _queue_lengths(sim, span: float) -> dict:
    # the integral is linear: one over the points' summed hours (21,000 bus stops)
    return {t: _per_span(integral(column_sums([pw.queued() for pw in _waits(sim, t)]),
                                  sim.warmup, sim.duration), span)
            for t in SERVICE_TYPES}


def _revenue(sim) -> dict:
    """Approved fen per terminal province and channel."""
    out = {p: dict.fromkeys(CHANNELS, 0) for p in PROVINCES}
    for (_h, channel, tprov, _c, outcome, _r), (_n, fen) in sim.tally.items():
        if outcome == APPROVED:
            out[tprov][channel] += fen
    return out


def build_summary(sim) -> dict:
    """The run summary of a finished simulation (``docs/summary.md`` lists every field)."""
    span = sim.duration - sim.warmup
    hours = sim.duration / 3600.0
    totals, by_reason, by_channel, by_province = _tally(sim)
    _add_rates(list(by_channel.values()) + list(by_province.values()), hours)
    total = totals["transactions"]
    wall = getattr(sim, "wall_seconds", 0.0)
    return {
        "scenario": sim.scenario.name,
        "seed": sim.scenario.seed,
        "scale": sim.scenario.scale,
        "sim_hours": round(hours, 6),
        "warmup_hours": round(sim.warmup / 3600.0, 6),
        "transactions": total,
        "approved": totals["approved"],
        "declined": totals["declined"],
        "approved_fen": totals["approved_fen"],
        "declined_by_reason": dict(sorted(by_reason.items())),
        "by_channel": by_channel,
        "by_province": by_province,
        "waits": {t: _merged_waits(sim, t).summary() for t in SERVICE_TYPES},
        "balked": {t: sum(pw.balks() for pw in _waits(sim, t)) for t in SERVICE_TYPES},
        "queue_length": _queue_lengths(sim, span),
        "utilisation": _utilisation(sim, span),
        "issuer_latency": {f"issuer-{p}": sim.auth_latency[p].summary() for p in PROVINCES},
        "scopes": scopes(sim),
        "windows": window_values(sim, sorted(sim.cfg.get("thresholds", {}))),
        "revenue_fen": _revenue(sim),
        "clearing": sim.hub.clearing(),
        "blacklist_exposure": {"transactions": sim.exposure[0], "amount_fen": sim.exposure[1],
                               "cards": len(sim.exposed_cards), "cards_reported_lost": len(sim.lost)},
        "cards_transacting": {p: len(sim.population[p]) for p in PROVINCES},
        "represents": sim.cfg["scenario"]["represents"],
        "scale_warning": sim.scenario.scale_warning,
        "other_payers": _other_payers(sim),
        "reservation_refused": sim.reservation_refused,
        "wall_seconds": round(wall, 3),
        "transactions_per_second": round(total / wall, 1) if wall > 0 else None,
    }


def _other_payers(sim) -> dict:
    """Passengers of other means of payment who used the gate banks, per ``province.type``."""
    return {f"{p}.{t}": sum(b.other_payers() for b in sim.points[p][t].banks)
            for p in PROVINCES for t in ("metro", "bus")}


def build_metrics(sim) -> list[tuple]:
    """The run's time series: rows (hour, metric, key, value) for the log's ``metrics`` table.

    Hours are clock-free simulated hours from the start (hour h covers [3600 h, 3600 h + 3600)).
    Metrics: transactions, approved, declined, approved_fen per ``channel/province``; decline
    counts per ``reason``; wait_p50/p95/p99 and wait_count per service point type and per
    ``province.type`` (by arrival hour); utilisation (time-weighted) and queue_length (time-weighted mean) per
    ``province.type``, utilisation per issuer and of the hub; blacklist exposure (fen).
    """
    rows: dict[tuple, float] = defaultdict(int)
    hours = int(sim.duration // 3600.0) + (1 if sim.duration % 3600.0 else 0)
    _tally_metrics(sim, rows)
    for t in SERVICE_TYPES:
        _service_type_metrics(sim, t, hours, rows)
    for i in sim.issuers.values():
        _node_utilisation(i.issuer_id, i.hourly, i.servers, hours, rows)
    _node_utilisation("hub", sim.hub.hourly, sim.hub.servers, hours, rows)
    for h, fen in sim.exposure_hourly.items():
        rows[(h, "blacklist_exposure_fen", "all")] += fen
    return [(h, m, k, float(v)) for (h, m, k), v in sorted(rows.items(), key=lambda x: (x[0][0], x[0][1], str(x[0][2])))]


def _tally_metrics(sim, rows: dict) -> None:
    for (h, channel, tprov, _c, outcome, reason), (n, fen) in sim.tally.items():
        k = f"{channel}/{tprov}"
        rows[(h, "transactions", k)] += n
        if outcome == APPROVED:
            rows[(h, "approved", k)] += n
            rows[(h, "approved_fen", k)] += fen
        else:
            rows[(h, "declined", k)] += n
            rows[(h, "declines", reason)] += n


def _service_type_metrics(sim, service_type: str, hours: int, rows: dict) -> None:
    """Per province: utilisation and queue length by hour; both provinces: wait percentiles."""
    every = []
    for p in PROVINCES:
        sp = sim.points[p][service_type]
        cols = sp.waits.columns()
        every.append(cols)
        _wait_rows(_by_hour([cols]), f"{p}.{service_type}", rows)
        cap = sp.terminals * 3600.0
        # each hour summed over the points at once (21,000 bus stops), not point by point per hour
        busy = column_sums([b.hourly.sums for b in sp.banks])
        queued = sp.waits.queued()
        for h in range(hours):
            if cap:
                rows[(h, "utilisation", f"{p}.{service_type}")] += round(busy[h] / cap, 6)
            rows[(h, "queue_length", f"{p}.{service_type}")] += round(queued[h] / 3600.0, 6)
    _wait_rows(_by_hour(every), service_type, rows)


def _wait_rows(by_hour: dict, key: str, rows: dict) -> None:
    for h, hist in by_hour.items():
        rows[(h, "wait_count", key)] += hist.n
        for q in (50, 95, 99):
            rows[(h, f"wait_p{q}", key)] += round(hist.percentile(q), 4)


def _node_utilisation(key: str, hourly, servers: int, hours: int, rows: dict) -> None:
    for h in range(hours):
        rows[(h, "utilisation", key)] += round(hourly.sums[h] / (servers * 3600.0), 6)

"""The charts of a run report, drawn from the log's ``metrics`` table and summary.

Legibility rules: small multiples rather than one crowded axis (throughput per channel, each on
its own axis so a small channel is not flattened by transit; waits per province and type;
utilisation per province, the nodes apart), a few distinct colours per axis, clock hours on x
with at most a handful of ticks, units on every axis, plain number formats.
"""

from __future__ import annotations

from cardsim.config.schema import SERVICE_TYPES
from cardsim.domain import CHANNELS, PROVINCES
from cardsim.reports.page import _chart, _svg
from cardsim.reports.sweep_view import plain
from cardsim.reports.text import inert

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _hours_axis(ax, series, start_hour: float, ticks: int = 6) -> None:
    """Clock hours on x (``start_hour`` + simulated hour), at most about ``ticks`` ticks."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(nbins=ticks, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda h, _pos: f"{int(round(start_hour + h)) % 24:02d}:00"))
    ax.set_xlabel("clock hour")
    ax.grid(alpha=0.3)


def _plain_y(ax, percent: bool = False, signed: bool = False) -> None:
    """Plain tick labels; a non-negative quantity's axis starts at 0, and an axis with nothing
    but zeros says so instead of showing a range around 0."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    data = [y for line in ax.get_lines() for y in line.get_ydata()]
    data += [p.get_height() for p in ax.patches]
    top = max((abs(v) for v in data), default=0.0)
    digits = 0 if top >= 0.1 else 1 if top >= 0.01 else 2     # percent ticks that differ
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(FuncFormatter(
        (lambda v, _p: f"{v * 100:.{digits}f}%") if percent else (lambda v, _p: plain(v))))
    if signed:
        return
    if not any(data):
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "0 throughout", transform=ax.transAxes, ha="center", va="center",
                color="#777", fontsize=8)
    else:
        ax.set_ylim(bottom=0)


def throughput_chart(plt, series, start_hour: float) -> str:
    fig, axes = plt.subplots(1, len(CHANNELS), figsize=(10.5, 2.8))
    for ax, channel in zip(axes, CHANNELS):
        for colour, p in zip(_COLOURS, PROVINCES):
            ax.plot(series.hours, series.values("transactions", f"{channel}/{p}"), color=colour,
                    label=p, linewidth=1.4)
        ax.set_title(channel, fontsize=9)
        _hours_axis(ax, series, start_hour)
        _plain_y(ax)
    axes[0].set_ylabel("transactions / h")
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _chart("Throughput per hour, by channel (each on its own axis) and province", _svg(fig))


def waits_chart(plt, series, start_hour: float) -> str:
    """Wait percentiles per hour: a row per province, a column per type (shared y per type)."""
    keys = series.keys("wait_p95")
    rows = [p for p in PROVINCES if any(f"{p}.{t}" in keys for t in SERVICE_TYPES)] or [None]
    fig, axes = plt.subplots(len(rows), len(SERVICE_TYPES), figsize=(10.5, 2.3 * len(rows)),
                             squeeze=False)
    for r, p in enumerate(rows):
        for c, t in enumerate(SERVICE_TYPES):
            ax = axes[r][c]
            key = f"{p}.{t}" if p else t
            for q, style in (("wait_p50", ":"), ("wait_p95", "-"), ("wait_p99", "--")):
                ax.plot(series.hours, series.values(q, key), style, label=q[5:], linewidth=1.2,
                        color="#1f4e79")
            ax.set_title(inert(key if p else f"{t} (both provinces)"), fontsize=8)
            _hours_axis(ax, series, start_hour, ticks=3)
            _plain_y(ax)
            if r < len(rows) - 1:
                ax.set_xlabel("")
        axes[r][0].set_ylabel("wait (s)")
    axes[0][0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _chart("Waiting time percentiles over time, by province and service point type", _svg(fig))


def utilisation_chart(plt, series, start_hour: float) -> str:
    """Small multiples: each province's service point types, then the issuers and the hub."""
    panels = [(p, [(t, f"{p}.{t}") for t in SERVICE_TYPES]) for p in PROVINCES]
    panels.append(("issuers and hub", [(k, k) for k in [f"issuer-{p}" for p in PROVINCES] + ["hub"]]))
    fig, axes = plt.subplots(1, len(panels), figsize=(10.5, 2.9))
    for ax, (title, lines) in zip(axes, panels):
        for colour, (label, key) in zip(_COLOURS, lines):
            if key in series.keys("utilisation"):
                ax.plot(series.hours, series.values("utilisation", key), color=colour,
                        label=inert(label), linewidth=1.4)
        ax.set_title(inert(title), fontsize=9)
        _hours_axis(ax, series, start_hour)
        _plain_y(ax, percent=True)
        ax.legend(fontsize=7, frameon=False)
    axes[0].set_ylabel("busy share of capacity")
    fig.tight_layout()
    return _chart("Utilisation over time (time-weighted), per province and for the nodes", _svg(fig))


def declines_chart(plt, declined_by_reason: dict[str, int]) -> str:
    fig, ax = plt.subplots(figsize=(9, 2.8))
    reasons = declined_by_reason or {"(none)": 0}
    ax.barh([inert(r) for r in reasons], list(reasons.values()), color="#c0504d")
    ax.set_xlabel("declined transactions")
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: plain(v)))
    return _chart("Declines by reason", _svg(fig))


def clearing_chart(plt, s: dict) -> str:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 2.8))
    gross = s["clearing"]["gross_fen"]
    a1.bar([inert(k) for k in gross], [v / 100 for v in gross.values()], color="#4f81bd")
    a1.set_ylabel("yuan")
    a1.set_title("gross cross-province flows", fontsize=9)
    _plain_y(a1)
    net = s["clearing"]["net_yuan"]
    a2.bar([inert(k) for k in net], list(net.values()), color=["#9bbb59" if v >= 0 else "#c0504d" for v in net.values()])
    a2.axhline(0, color="#444", linewidth=0.8)
    a2.set_ylabel("yuan")
    a2.set_title("net position (positive: receives)", fontsize=9)
    _plain_y(a2, signed=True)
    fig.tight_layout()
    return _chart("Cross-province flows and net clearing", _svg(fig))


def exposure_chart(plt, series, s: dict, start_hour: float) -> str:
    fig, ax = plt.subplots(figsize=(9, 2.6))
    ax.bar(series.hours, [v / 100 for v in series.values("blacklist_exposure_fen", "all")], color="#f79646")
    _hours_axis(ax, series, start_hour)
    ax.set_ylabel("yuan")
    _plain_y(ax)
    fig.tight_layout()
    be = s["blacklist_exposure"]
    return _chart("Blacklist exposure over time", _svg(fig),
                  f"{be['transactions']} approved transactions worth {be['amount_fen'] / 100:,.2f} "
                  f"yuan on {be['cards']} cards already reported lost")

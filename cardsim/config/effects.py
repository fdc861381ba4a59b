"""Which scenario keys a ``--set`` can change in each audit mode (replay, retime), and why not
the others: an error rather than a what-if that silently changes nothing (``cardsim.api``
checks every ``--set`` against this table)."""

from __future__ import annotations

_DEMAND_NOTE = "replay decides the logged transactions; try `cardsim retime`"

#: Scenario keys (``fnmatch`` patterns, a ``*`` for the province) whose ``--set`` cannot change
#: the result of a mode, and why: an error rather than a what-if that silently changes nothing.
NO_EFFECT: dict[str, tuple[tuple[str, str], ...]] = {
    "replay": (
        ("simulation", "replay keeps the log's clock, seed and dates"),
        ("demand", "replay decides the logged transactions; try `cardsim retime`"),
        ("attacks", "replay injects nothing"),
        ("hub", "capacities and latencies matter only to timing; try `cardsim retime`"),
        ("provinces.*.journeys_per_day", _DEMAND_NOTE),
        ("provinces.*.visitors_per_day", _DEMAND_NOTE),
        ("provinces.*.cases_per_day", _DEMAND_NOTE),
        ("provinces.*.intercity_trips_per_day", _DEMAND_NOTE),
        ("provinces.*.transit_card_share", _DEMAND_NOTE),
        ("provinces.*.scenic_gate.*_share", _DEMAND_NOTE),
        ("provinces.*.gov_window.cross_province_share", _DEMAND_NOTE),
        ("provinces.*.headway_s", "arrival times are the log's; try `cardsim retime`"),
        ("provinces.*.wave_spread_s", "arrival times are the log's; try `cardsim retime`"),
        ("provinces.*.speed_kmh", "arrival times are the log's; try `cardsim retime`"),
        ("provinces.*.sizing_utilisation", "capacities matter only to timing; try `cardsim retime`"),
        ("provinces.*.named.*.weight", _DEMAND_NOTE),
        ("provinces.*.named.*.terminals", "capacities matter only to timing; try `cardsim retime`"),
        ("provinces.*.named.*.travel_h", "arrival times are the log's; try `cardsim retime`"),
        ("provinces.*.named.*.daily_cap", _DEMAND_NOTE),
        ("provinces.*.cards", "the cards are the log's cards"),
        ("provinces.*.*_share", "the cards are the log's cards"),
        ("provinces.*.balance_m??_fen", "the cards are the log's cards"),
        ("provinces.*.fares.senior_quota_*", "a card's quota comes with the log's cards"),
        ("provinces.*.lost_per_day", "loss reports are the log's"),
        ("provinces.*.terminals", "capacities matter only to timing; try `cardsim retime`"),
        ("provinces.*.points", "capacities matter only to timing; try `cardsim retime`"),
        ("provinces.*.point_skew", "the logged terminals are kept"),
        ("provinces.*.service_time", "service times matter only to timing; try `cardsim retime`"),
        ("provinces.*.patience_s", "the logged customers are kept; try `cardsim retime`"),
        ("provinces.*.upload_interval_s", "upload times do not change a decision"),
        ("provinces.*.metro.trip_km", "replay uses each record's logged trip length"),
        ("provinces.*.issuer.servers", "time-outs are taken as recorded; try `cardsim retime`"),
        ("provinces.*.issuer.latency_s", "time-outs are taken as recorded; try `cardsim retime`"),
        ("provinces.*.issuer.timeout_s", "time-outs are taken as recorded; try `cardsim retime`"),
    ),
    "retime": (
        ("simulation.seed", "retime keeps the log's seed"),
        ("simulation.duration_hours", "retime keeps the log's span"),
        ("simulation.start_hour", "retime keeps the log's span"),
        ("demand", "the arrivals are the log's"),
        ("attacks", "retime injects nothing"),
        ("provinces.*.visitors_per_day", "the arrivals are the log's"),
        ("provinces.*.cases_per_day", "the arrivals are the log's"),
        ("provinces.*.intercity_trips_per_day", "the arrivals are the log's"),
        ("provinces.*.scenic_gate.*_share", "the arrivals are the log's"),
        ("provinces.*.gov_window.cross_province_share", "the arrivals are the log's"),
        ("provinces.*.named.*.weight", "the arrivals are the log's"),
        ("provinces.*.named.*.daily_cap", "the arrivals are the log's"),
        ("provinces.*.cards", "the cards are the log's cards"),
        ("provinces.*.*_share", "the cards are the log's cards"),
        ("provinces.*.balance_m??_fen", "the cards are the log's cards"),
        ("provinces.*.lost_per_day", "loss reports are the log's"),
        ("provinces.*.metro.trip_km", "retime uses each record's logged trip length"),
    ),
}

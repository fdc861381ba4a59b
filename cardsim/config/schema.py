"""The scenario schema: every key a scenario file may hold, with its type, unit, default and bounds.

This is the one place scenario keys are defined. ``scenario.py`` validates files against it,
``docgen.py`` writes ``docs/scenarios.md`` from it, and the model reads only keys named here.

Keys under ``provinces.<province>`` are declared once and exist for both provinces; their defaults
may differ per province (a ``{province: value}`` mapping in ``default``). Keys marked ``scales`` are
multiplied by ``--scale`` (population and demand, never capacity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardsim.config.profiles import DEFAULTS as PROFILE_DEFAULTS, SLOTS
from cardsim.domain import PROVINCES

#: Service point types: each is a group of identical terminals with one queue.
SERVICE_TYPES = ("metro", "bus", "scenic_gate", "gov_window")
#: The channel each service point type belongs to.
SERVICE_CHANNEL = {"metro": "transit", "bus": "transit", "scenic_gate": "tourism", "gov_window": "government"}

DISTRIBUTION_KINDS = {
    # kind: (required fields, optional fields)
    "exponential": ({"mean"}, set()),
    "deterministic": ({"mean"}, set()),
    "lognormal": ({"mean", "cv"}, set()),
    "gamma": ({"mean", "cv"}, set()),
    "uniform": ({"low", "high"}, set()),
}


@dataclass(frozen=True)
class Key:
    """One scenario key.

    kind is one of: int, float, bool, str (one of ``choices``), text (free text), date
    (YYYY-MM-DD), floats (list of numbers), ints (list of integers), distribution (inline table,
    see ``DISTRIBUTION_KINDS``), windows (list of [start_h, end_h]), points (a table of named
    points, see ``POINT_FIELDS``).
    """

    path: str
    kind: str
    default: Any
    unit: str
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    scales: bool = False

    def default_for(self, province: str | None) -> Any:
        if isinstance(self.default, dict) and self.kind not in ("distribution", "points"):
            return self.default[province]
        return self.default


def _dist(kind: str, **fields: float) -> dict:
    return {"dist": kind, **fields}


KEYS: list[Key] = []


def _k(path: str, kind: str, default: Any, unit: str, help: str, **kw: Any) -> None:
    KEYS.append(Key(path, kind, default, unit, help, **kw))


#: The fields a named point may have (kind ``points``): field -> (type, min, meaning).
POINT_FIELDS = {
    "weight": (float, 0.0, "relative share of its type's demand in the province (required)"),
    "terminals": (int, 1, "terminals at this point (default: the sizing rule, else `terminals`)"),
    "travel_h": (float, 0.0, "scenic sites: travel time from the province's main city, hours"),
    "daily_cap": (int, 0, "scenic sites: daily reservation cap of all visitors (0 = none)"),
    "ticket_fen": (int, 0, "scenic sites: full ticket price (default: the type's `ticket_fen`)"),
}

# --- scenario -----------------------------------------------------------------------------------
_k("scenario.represents", "text", "", "-", "What a run of this scenario represents at --scale 1 "
   "(the whole of both provinces' card use, or a named slice); shown in reports.")

# --- simulation -----------------------------------------------------------------------------
_k("simulation.duration_hours", "float", 24.0, "h", "Simulated time span.", min=0.001, max=24 * 366)
_k("simulation.start_hour", "float", 0.0, "h", "Clock hour at sim_time 0 (time-of-day profiles "
   "are read at start_hour + sim_time).", min=0, max=23.999)
_k("simulation.seed", "int", 1, "-", "Base seed of every random stream; --seed overrides it.",
   min=0, max=2**63 - 1)
_k("simulation.warmup_hours", "float", 0.0, "h", "Initial period excluded from wait and "
   "utilisation statistics (transactions are still logged).", min=0, max=24 * 366)
_k("simulation.queue_horizon_s", "float", 120.0, "s", "A wave of other payers at a gate bank "
   "is booked at its expected load instead of drawn when the bank is idle and the wave's queue "
   "is sure to be gone before the next wave and more than this long before the next card "
   "holder comes (and so is such a wave after the last card holder): docs/model.md. "
   "0 = draw every wave.", min=0, max=7 * 86400)
_k("simulation.batch_size", "int", 5000, "records", "Records written per log transaction.",
   min=1, max=1_000_000)
_k("simulation.start_date", "date", "2026-11-02", "date", "Calendar date (YYYY-MM-DD, China "
   "Standard Time) of sim_time 0: certificate validity and the senior quota's year are read at "
   "start_date + sim_time.")
_k("simulation.checkpoint_every", "int", 10_000, "records", "A signed checkpoint of the log's "
   "hash chain every this many records (and one at the end).", min=1, max=100_000_000)

# --- provinces: population -------------------------------------------------------------------
P = "provinces.{province}."
_k(P + "cards", "int", {"sichuan": 12_300_000, "chongqing": 4_650_000}, "cards",
   "Issued social-security cards (the serial space holders' cards are drawn from; a card "
   "exists in memory only once its holder travels).", min=1, max=999_999_999, scales=True)
_k(P + "senior_share", "float", {"sichuan": 0.17, "chongqing": 0.19}, "share",
   "Share of issued cards whose holders are 65+ (the serial range senior cards come from).",
   min=0, max=1)
_k(P + "student_share", "float", 0.12, "share", "Share of issued cards held by students.",
   min=0, max=1)
_k(P + "balance_min_fen", "int", 0, "fen", "Lowest initial stored-value balance.",
   min=0, max=100_000)
_k(P + "balance_max_fen", "int", 20_000, "fen", "Highest initial stored-value balance (stored "
   "value is capped at about 1,000 yuan = 100,000 fen).", min=0, max=100_000)
_k(P + "lost_per_day", "float", {"sichuan": 40.0, "chongqing": 16.0}, "cards/day",
   "Travelling holders' cards reported lost per day; a lost card is declined online at once and "
   "offline only once the blacklist reaches the terminals.", min=0, max=10_000_000, scales=True)
_k(P + "blacklist_push_interval_s", "float", 3600.0, "s", "Terminals receive a new "
   "blacklist (exception file) at this interval.", min=1, max=7 * 86400)
_k(P + "blacklist_push_delay_s", "float", 900.0, "s", "Time from a loss report until the "
   "report can be in a pushed blacklist.", min=0, max=7 * 86400)
_k(P + "transit_card_share", "float", 0.03, "share", "Share of the city's transit journeys "
   "paid with the social-security card (the rest are other payers, who queue at the same "
   "gates but are not logged).", min=0, max=1)
_k(P + "intercity_trips_per_day", "float", {"sichuan": 2_000.0, "chongqing": 2_000.0}, "holders/day",
   "Card holders of this province who travel by train to the other province's main city on "
   "the day (their card appears there after the journey).", min=0, max=1e8, scales=True)

# --- provinces: service points ---------------------------------------------------------------
_SP_DEFAULTS = {
    # type: (points, terminals, service_time, skew, upload_interval_s, patience_s, headway, spread)
    "metro": ({"sichuan": 423, "chongqing": 300}, 8, _dist("lognormal", mean=2.7, cv=0.3), 0.8, 900.0, 900.0, 240.0, 60.0),
    "bus": ({"sichuan": 12_000, "chongqing": 9_000}, 2, _dist("lognormal", mean=2.4, cv=0.4), 0.3, 3600.0, 300.0, 600.0, 10.0),
    "scenic_gate": ({"sichuan": 6, "chongqing": 4}, 4, _dist("lognormal", mean=6.0, cv=0.4), 0.6, 900.0, 3600.0, 0.0, 0.0),
    "gov_window": ({"sichuan": 3, "chongqing": 2}, 16, _dist("lognormal", mean=480.0, cv=0.6), 0.4, 0.0, 7200.0, 0.0, 0.0),
}
_SP_TERMS = {"metro": "stations (their exit gate banks)", "bus": "bus stops (boarding validators)",
             "scenic_gate": "scenic sites", "gov_window": "service halls"}
_SP_TERM1 = {"metro": "gates per station", "bus": "validators per stop",
             "scenic_gate": "gates per site", "gov_window": "windows per hall"}
for _t, (_pts, _terms, _st, _skew, _up, _pat, _hw, _spread) in _SP_DEFAULTS.items():
    S = P + _t + "."
    _k(S + "points", "int", _pts, "points", f"Number of unnamed {_SP_TERMS[_t]} (point-1, "
       "point-2, ...; their demand follows a Zipf law, see point_skew).", min=0, max=100_000)
    _k(S + "named", "points", {}, "-", f"Named {_SP_TERMS[_t]}: a table name -> {{ weight = ..., "
       "terminals = ..., ... }} (fields: " + "; ".join(
           f"{f}: {m}" for f, (_ty, _mn, m) in POINT_FIELDS.items()) + "). With unnamed points "
       "too, a named weight is the point's share of the type's demand (the unnamed share the "
       "rest); alone, weights are relative.")
    _k(S + "terminals", "int", _terms, "terminals", f"Terminals per point: {_SP_TERM1[_t]} "
       "(where neither the point's own `terminals` nor the sizing rule sets them).",
       min=1, max=10_000)
    _k(S + "sizing_utilisation", "float", 0.6 if _t == "metro" else 0.0, "share", "Sizing rule: give each point without "
       "its own `terminals` the fewest terminals whose utilisation in the busiest 15 minutes of "
       "its expected demand (all payers) stays at or below this (0 = off).", min=0, max=0.99)
    _k(S + "service_time", "distribution", _st, "s", "Time one customer occupies a terminal "
       "(for online transactions, excluding the wait for authorisation).")
    _k(S + "point_skew", "float", _skew, "-", "Zipf exponent spreading demand over unnamed "
       "points (0 = even; larger = a few busy points).", min=0, max=5)
    _k(S + "upload_interval_s", "float", _up, "s", "The merchant uploads offline records in "
       "batches at this interval (0 = immediately, online).", min=0, max=7 * 86400)
    _k(S + "patience_s", "float", _pat, "s", "A customer who would wait longer than this for a "
       "terminal leaves without using the card (balks; counted, not logged). 0 = waits forever.",
       min=0, max=7 * 86400)
    if _t in ("metro", "bus"):
        _k(S + "headway_s", "float", _hw, "s", "Time between trains (metro: passengers reach "
           "the exit gates in waves after each train) or buses (bus: a stop's passengers board "
           "as a group); 0 = arrivals one by one.", min=0, max=7200)
        _k(S + "wave_spread_s", "float", _spread, "s", "A wave's passengers reach the "
           "terminals spread uniformly over this long.", min=0, max=3600)
        _k(S + "journeys_per_day", "float", {"sichuan": 3_600_000.0, "chongqing": 2_600_000.0}
           if _t == "metro" else {"sichuan": 3_500_000.0, "chongqing": 3_500_000.0},
           "journeys/day", "Journeys a day by every means of payment (metro: entries; bus: "
           "boardings).", min=0, max=1e9, scales=True)
        _k(S + "speed_kmh", "float", 35.0 if _t == "metro" else 15.0, "km/h", "Average "
           "riding speed, stops included (sets riding times).", min=1, max=300)
        _k(S + "trip_km", "distribution", _dist("lognormal", mean=9.0 if _t == "metro" else 5.0,
                                                cv=0.6), "km",
           "Trip length (metro: it sets the distance-banded fare; both: the riding time).")

M = P + "metro."
_k(M + "fare_rule", "str", "banded", "-", "Metro fare: 'flat' or distance 'banded'.",
   choices=("flat", "banded"))
_k(M + "flat_fare_fen", "int", 200, "fen", "Metro fare when fare_rule = 'flat'.", min=0, max=100_000)
_k(M + "band_km", "floats", {"sichuan": [4.0, 8.0, 12.0, 18.0, 24.0, 32.0, 40.0, 50.0, 70.0, 90.0, 110.0],
                             "chongqing": [6.0, 11.0, 17.0, 24.0, 32.0, 41.0, 51.0, 63.0]},
   "km", "Upper bounds of the distance bands (increasing).")
_k(M + "band_fare_fen", "ints", {"sichuan": [200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300],
                                 "chongqing": [200, 300, 400, 500, 600, 700, 800, 900, 1000]},
   "fen", "Fare per band; one more entry than band_km (the last applies beyond the last bound).")
_k(M + "fare_cap_fen", "int", {"sichuan": 0, "chongqing": 700}, "fen", "Highest metro fare "
   "charged, whatever the band (0 = none).", min=0, max=100_000)
_k(P + "bus.flat_fare_fen", "int", 200, "fen", "Bus fare (flat).", min=0, max=100_000)
G = P + "scenic_gate."
_k(G + "ticket_fen", "int", {"sichuan": 9000, "chongqing": 6000}, "fen",
   "Full ticket price at a scenic site.", min=0, max=10_000_000)
_k(G + "cardholder_discount_pct", "float", 10.0, "%", "Discount for paying with the "
   "social-security card.", min=0, max=100)
_k(G + "senior_free", "bool", True, "-", "Seniors (65+) enter free.")
_k(G + "visitors_per_day", "float", {"sichuan": 61_000.0, "chongqing": 83_000.0}, "visitors/day",
   "Visitors a day at the province's modelled sites, all means of entry.", min=0, max=1e9,
   scales=True)
_k(G + "card_share", "float", 0.05, "share", "Share of visitors who enter with the "
   "social-security card.", min=0, max=1)
_k(G + "other_province_share", "float", 0.25, "share", "Share of card visitors whose card "
   "was issued by the other province (they travel by train first).", min=0, max=1)
_k(G + "group_share", "float", 0.3, "share", "Share of card visitors who arrive with a tour "
   "group (a group reaches the gates together).", min=0, max=1)
_k(P + "gov_window.fee_fen", "int", 0, "fen", "Fee charged per government service item "
   "(the cross-province items are free of charge).", min=0, max=10_000_000)
_k(P + "gov_window.cases_per_day", "float", {"sichuan": 1_800.0, "chongqing": 1_200.0},
   "cases/day", "Cases a day at the modelled halls' windows that authenticate the card.",
   min=0, max=1e8, scales=True)
_k(P + "gov_window.cross_province_share", "float", 0.1, "share", "Share of window cases on "
   "cards of the other province (its holders living or working here).", min=0, max=1)

F = P + "fares."
_k(F + "transfer_window_s", "float", {"sichuan": 0.0, "chongqing": 3600.0}, "s", "A tap within "
   "this time of the previous paid tap is a transfer (0 = no transfer discount).", min=0, max=86400)
_k(F + "transfer_discount_fen", "int", 200, "fen", "Discount on a transfer leg, at most what "
   "the first leg paid (a transfer fare up to this is free).", min=0, max=100_000)
_k(F + "transfer_bus_bus", "bool", {"sichuan": False, "chongqing": True}, "-", "A bus tap after "
   "a bus tap counts as a transfer too (else only bus<->rail).")
_k(F + "transfer_concessions", "bool", False, "-", "Concession fares (students, seniors) get "
   "the transfer discount too (else full-fare taps only).")
_k(F + "card_discount_pct", "float", 10.0, "%", "Discount on full transit fares paid from "
   "the card's stored value.", min=0, max=100)
_k(F + "student_discount_pct", "float", 50.0, "%", "Student discount on transit fares.",
   min=0, max=100)
_k(F + "senior_free_rides", "bool", True, "-",
   "Eligible seniors ride free against a yearly quota.")
_k(F + "senior_eligibility", "str", "home_cards", "-", "Who the senior rule covers: "
   "'home_cards' (cards issued by this province: its hukou and residence-permit holders) or "
   "'all_cards'.", choices=("home_cards", "all_cards"))
_k(F + "senior_offpeak_only", "bool", {"sichuan": True, "chongqing": False}, "-", "Seniors "
   "ride free only outside the peak windows (in them they pay as adults).")
_k(F + "peak_windows", "windows", [[7.5, 9.0], [17.5, 19.0]], "h", "Clock hours [start, end] "
   "of the peaks for senior_offpeak_only.")
_k(F + "senior_discount_pct", "float", 0.0, "%", "Discount for seniors where free rides do "
   "not apply (not eligible, or the quota is used up).", min=0, max=100)
_k(F + "senior_quota_per_year", "int", {"sichuan": 600, "chongqing": 1200}, "rides", "Free rides per senior per calendar "
   "year (reset on 1 January).", min=0, max=100_000)
_k(F + "senior_quota_extension", "int", {"sichuan": 0, "chongqing": 300}, "rides", "Rides added when a senior's quota is "
   "used up and an extension is granted.", min=0, max=100_000)
_k(F + "senior_quota_extensions", "int", {"sichuan": 0, "chongqing": 1000}, "times/year", "How many extensions a senior may "
   "be granted per calendar year.", min=0, max=1000)

I = P + "issuer."
_k(I + "servers", "int", 4, "servers", "Concurrent authorisations the issuer can process.",
   min=1, max=10_000)
_k(I + "service_time", "distribution", _dist("exponential", mean=0.08), "s",
   "Issuer processing time per authorisation.")
_k(I + "latency_s", "float", 0.04, "s", "One-way network latency between acquirer and "
   "this issuer (or the hub and this issuer).", min=0, max=60)
_k(I + "timeout_s", "float", 15.0, "s", "A terminal gives up on an authorisation after this "
   "long and declines.", min=0.001, max=3600)
_k(I + "outages", "windows", [], "h", "Windows [start_hour, end_hour] of simulated time when "
   "the issuer is unreachable.")
_k(I + "standin", "str", "decline", "-", "During an outage the hub stands in: 'decline' all, "
   "or 'limit': approve payments up to standin_limit_fen (government items always decline: "
   "they need the home issuer).", choices=("decline", "limit"))
_k(I + "standin_limit_fen", "int", 5000, "fen", "Largest amount approved in stand-in.",
   min=0, max=100_000_000)
_k(I + "atc_max_jump", "int", 500, "-", "The issuer declines when the card's ATC jumps by "
   "more than this since the last transaction it saw online.", min=1, max=65_535)

# --- hub ---------------------------------------------------------------------------------------
_k("hub.servers", "int", 8, "servers", "Concurrent messages the inter-provincial hub routes.",
   min=1, max=10_000)
_k("hub.service_time", "distribution", _dist("exponential", mean=0.01), "s",
   "Hub processing time per routed message.")
_k("hub.latency_s", "float", 0.03, "s", "One-way latency between an acquirer and the hub.",
   min=0, max=60)

# --- demand: holders and their day -------------------------------------------------------------
#: Local holder types: (share of the province's card transit journeys, journeys pmf from 0).
HOLDER_TYPES = {
    "commuter": (0.55, [0.0, 0.0, 0.8, 0.1, 0.1]),
    "occasional": (0.2, [0.0, 0.6, 0.4]),
    "senior": (0.15, [0.0, 0.4, 0.5, 0.1]),
    "student": (0.1, [0.0, 0.0, 0.9, 0.1]),
}
#: Visiting holder types: transit journeys besides the visit (pmf from 0).
VISITOR_TYPES = {"tourist": [0.5, 0.3, 0.2], "visitor": [0.2, 0.4, 0.3, 0.1]}
H = "demand.holders."
for _h, (_share, _pmf) in HOLDER_TYPES.items():
    _k(H + _h + ".journey_share", "float", _share, "share", f"Share of the card's transit "
       f"journeys in a province made by {_h}s (relative: the local types' shares are divided by "
       "their sum).", min=0, max=1)
    _k(H + _h + ".journeys_pmf", "floats", _pmf, "probability", f"Probability that a "
       f"travelling {_h} makes 0, 1, 2, ... journeys in the day (0 is ignored: a holder who "
       "does not travel does not appear).")
for _h, _pmf in VISITOR_TYPES.items():
    _k(H + _h + ".journeys_pmf", "floats", _pmf, "probability", f"Probability that a {_h} "
       "makes 0, 1, 2, ... transit journeys besides the visit.")
_k("demand.intercity.travel_time", "distribution", _dist("uniform", low=3600.0, high=5400.0), "s",
   "Door-to-door time from a card's last use in one main city to the station of the other "
   "(the Chengdu-Chongqing trains take about 1 to 1.5 hours).")
_k("demand.intercity.return_share", "float", 0.5, "share", "Share of intercity visitors who "
   "return home the same day (their card reappears at home after the journey).", min=0, max=1)

T = "demand.transit."
_k(T + "transfer_share", "float", 0.12, "share", "Share of card journeys with a bus<->rail "
   "transfer (two taps).", min=0, max=1)
_k(T + "bus_bus_share", "float", 0.05, "share", "Share of card journeys with a bus->bus "
   "transfer (two bus taps).", min=0, max=1)
_k(T + "access_walk", "distribution", _dist("uniform", low=120.0, high=600.0), "s",
   "From a journey's departure to the first gate or stop.")
_k(T + "transfer_walk", "distribution", _dist("uniform", low=120.0, high=480.0), "s",
   "Walking (and waiting) between the legs of a transfer.")
_k(T + "min_gap", "distribution", _dist("uniform", low=1800.0, high=7200.0), "s",
   "Least time a holder spends at a destination before the next journey.")
_k("demand.tourism.group_size", "distribution", _dist("uniform", low=10.0, high=40.0), "visitors",
   "Card visitors in one tour group (rounded).")
_k("demand.tourism.visit_time", "distribution", _dist("uniform", low=5400.0, high=14400.0), "s",
   "Time spent at a scenic site after entering.")
_k("demand.government.items", "int", 24, "items", "Cross-province service items on offer "
   "(the first batch had 24).", min=1, max=1000)
for _purpose, _shape in PROFILE_DEFAULTS.items():
    _k("demand.profiles." + _purpose, "floats", list(_shape), "-", f"Relative departures "
       f"(arrivals for scenic, office) of {_purpose.replace('_', ' ')} trips per 15 minutes "
       "from 00:00 (96 numbers).", length=SLOTS)

# --- attacks (security testing) -------------------------------------------------------------------
#: In-run attacks make records that the nodes accepted (an attacker at a terminal); they are signed,
#: chained and checkpointed like any other. Post-run attacks edit the finished log file.
ATTACK_KEYS = {
    "cloned_cards": "cards cloned (keys extracted); each clone taps 3 times at gates of the other "
                    "province, repeating the genuine card's ATC",
    "foreign_key_records": "records whose card signature is made with a key outside the trust chain",
    "forged_certificates": "new cards with a certificate signed by the attacker, not the issuer, "
                           "each used once",
    "revoked_card_uses": "offline approvals of lost cards after the blacklist reached the terminal",
    "expired_card_uses": "uses of cards whose (genuine) certificate has expired",
    "tampered_records": "records edited after signing (amount, outcome, card, time in turn)",
    "deleted_records": "records deleted from the finished log",
    "reordered_records": "pairs of adjacent records swapped in the finished log",
    "truncated_records": "records cut off the end of the finished log, with its final checkpoint",
}
IN_RUN_ATTACKS = ("cloned_cards", "foreign_key_records", "forged_certificates",
                  "revoked_card_uses", "expired_card_uses")
for _a, _h in ATTACK_KEYS.items():
    _k(f"attacks.{_a}", "int", 0, "count", _h[0].upper() + _h[1:] + ".", min=0, max=1_000_000)


def expand() -> dict[str, Key]:
    """All concrete keys by dotted path, with ``{province}`` expanded."""
    out: dict[str, Key] = {}
    for key in KEYS:
        if "{province}" in key.path:
            for p in PROVINCES:
                out[key.path.format(province=p)] = key
        else:
            out[key.path] = key
    return out


KEY_INDEX = expand()


def province_of(path: str) -> str | None:
    parts = path.split(".")
    if len(parts) > 1 and parts[0] == "provinces":
        return parts[1]
    return None


def defaults() -> dict:
    """The full default configuration as a nested dict."""
    cfg: dict = {"thresholds": {}}
    for path, key in KEY_INDEX.items():
        set_path(cfg, path, _copy(key.default_for(province_of(path))))
    return cfg


def _copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def set_path(cfg: dict, path: str, value: Any) -> None:
    node = cfg
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def get_path(cfg: dict, path: str) -> Any:
    node = cfg
    for part in path.split("."):
        node = node[part]
    return node


def cross_checks(cfg: dict) -> list[tuple[str, str]]:
    """Rules that involve more than one key: a list of (path, message)."""
    errs: list[tuple[str, str]] = []
    for p in PROVINCES:
        errs += _province_checks(p, cfg["provinces"][p])
    if sum(cfg["demand"]["holders"][h]["journey_share"] for h in HOLDER_TYPES) <= 0:
        errs.append(("demand.holders", "at least one local type needs a journey_share > 0"))
    for h in list(HOLDER_TYPES) + list(VISITOR_TYPES):
        pmf = cfg["demand"]["holders"][h]["journeys_pmf"]
        if sum(pmf[0 if h in VISITOR_TYPES else 1:]) <= 0:
            errs.append((f"demand.holders.{h}.journeys_pmf", "must give some probability to "
                         + ("a number of journeys" if h in VISITOR_TYPES else "1 or more journeys")))
    for purpose in PROFILE_DEFAULTS:
        if max(cfg["demand"]["profiles"][purpose]) <= 0:
            errs.append((f"demand.profiles.{purpose}", "must have at least one slot > 0"))
    t = cfg["demand"]["transit"]
    if t["transfer_share"] + t["bus_bus_share"] > 1.0:
        errs.append(("demand.transit.bus_bus_share", "transfer_share + bus_bus_share must be <= 1 "
                     "(demand.transit.transfer_share and demand.transit.bus_bus_share), got "
                     f"{t['transfer_share']:g} + {t['bus_bus_share']:g}"))
    return errs


def _province_checks(p: str, pc: dict) -> list[tuple[str, str]]:
    errs = []
    if pc["senior_share"] + pc["student_share"] > 1.0:
        errs.append((f"provinces.{p}.student_share",
                     f"senior_share + student_share must be <= 1 (provinces.{p}.senior_share and "
                     f"provinces.{p}.student_share), got "
                     f"{pc['senior_share']:g} + {pc['student_share']:g}"))
    if pc["balance_min_fen"] > pc["balance_max_fen"]:
        errs.append((f"provinces.{p}.balance_min_fen",
                     f"must be <= provinces.{p}.balance_max_fen ({pc['balance_max_fen']}), "
                     f"got {pc['balance_min_fen']}"))
    bands = pc["metro"]["band_km"]
    if any(b >= c for b, c in zip(bands, bands[1:])):
        errs.append((f"provinces.{p}.metro.band_km", f"must be strictly increasing, got {bands}"))
    if len(pc["metro"]["band_fare_fen"]) != len(bands) + 1:
        errs.append((f"provinces.{p}.metro.band_fare_fen",
                     f"must have {len(bands) + 1} items (one more than band_km), "
                     f"got {len(pc['metro']['band_fare_fen'])}"))
    for t in SERVICE_TYPES:
        sp = pc[t]
        wsum = sum(v["weight"] for v in sp["named"].values())
        if not sp["named"] and sp["points"] == 0:
            errs.append((f"provinces.{p}.{t}.points", "must be >= 1 (or name the points in `named`)"))
        elif sp["named"] and not sp["points"] and wsum <= 0:
            errs.append((f"provinces.{p}.{t}.named", "at least one point needs a weight > 0"))
        elif sp["named"] and sp["points"] and wsum > 1.0 + 1e-9:
            errs.append((f"provinces.{p}.{t}.named", "with unnamed points too, the named weights "
                         f"are shares of the demand and must sum to <= 1, got {wsum:g}"))
    return errs


SCALED_PATHS = tuple(path for path, key in KEY_INDEX.items() if key.scales)

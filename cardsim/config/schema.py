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

from cardsim.domain import CHANNELS
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

    kind is one of: int, float, bool, str, date (YYYY-MM-DD), floats (list of numbers), ints (list
    of integers), distribution (inline table, see ``DISTRIBUTION_KINDS``), windows (list of
    [start_h, end_h]).
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
        if isinstance(self.default, dict) and self.kind != "distribution":
            return self.default[province]
        return self.default


def _dist(kind: str, **fields: float) -> dict:
    return {"dist": kind, **fields}


# Hour-of-day shapes (relative, peak 1.0). Assumptions, not data: two commuter peaks for transit,
# office hours for government windows, daytime for scenic sites.
WEEKDAY_TRANSIT_PROFILE = [0.02, 0.01, 0.01, 0.01, 0.03, 0.12, 0.45, 0.95, 1.0, 0.6, 0.45, 0.45,
                           0.5, 0.45, 0.45, 0.5, 0.65, 0.95, 1.0, 0.7, 0.5, 0.35, 0.2, 0.06]
OFFICE_PROFILE = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.8, 1.0, 0.9, 0.3, 0.2, 0.85, 1.0, 0.9, 0.5,
                  0, 0, 0, 0, 0, 0]
DAYTIME_PROFILE = [0, 0, 0, 0, 0, 0, 0.05, 0.2, 0.5, 0.85, 1.0, 1.0, 0.9, 0.9, 0.95, 0.85, 0.6,
                   0.35, 0.15, 0.05, 0, 0, 0, 0]

KEYS: list[Key] = []


def _k(path: str, kind: str, default: Any, unit: str, help: str, **kw: Any) -> None:
    KEYS.append(Key(path, kind, default, unit, help, **kw))


# --- simulation -----------------------------------------------------------------------------
_k("simulation.duration_hours", "float", 24.0, "h", "Simulated time span.", min=0.001, max=24 * 366)
_k("simulation.start_hour", "float", 0.0, "h", "Clock hour at sim_time 0 (hour-of-day profiles "
   "are read at start_hour + sim_time).", min=0, max=23.999)
_k("simulation.seed", "int", 1, "-", "Base seed of every random stream; --seed overrides it.",
   min=0, max=2**63 - 1)
_k("simulation.warmup_hours", "float", 0.0, "h", "Initial period excluded from wait and "
   "utilisation statistics (transactions are still logged).", min=0, max=24 * 366)
_k("simulation.batch_size", "int", 5000, "records", "Records written per log transaction.",
   min=1, max=1_000_000)
_k("simulation.start_date", "date", "2026-11-02", "date", "Calendar date (YYYY-MM-DD, China "
   "Standard Time) of sim_time 0: certificate validity is checked at start_date + sim_time.")
_k("simulation.checkpoint_every", "int", 10_000, "records", "A signed checkpoint of the log's "
   "hash chain every this many records (and one at the end).", min=1, max=100_000_000)

# --- provinces: population -------------------------------------------------------------------
P = "provinces.{province}."
_k(P + "cards", "int", {"sichuan": 1_800_000, "chongqing": 700_000}, "cards",
   "Issued social-security cards (population; created lazily as they transact).",
   min=1, max=500_000_000, scales=True)
_k(P + "active_share", "float", 0.04, "share", "Share of cards that transact during the "
   "simulated span; arrivals draw their card uniformly from this active pool.", min=0.0, max=1.0)
_k(P + "senior_share", "float", {"sichuan": 0.17, "chongqing": 0.18}, "share",
   "Share of holders aged 65+ (free transit rides against a yearly quota where the province "
   "grants them).", min=0, max=1)
_k(P + "student_share", "float", 0.12, "share", "Share of holders who are students "
   "(transit discount).", min=0, max=1)
_k(P + "balance_min_fen", "int", 0, "fen", "Lowest initial stored-value balance.",
   min=0, max=100_000)
_k(P + "balance_max_fen", "int", 20_000, "fen", "Highest initial stored-value balance (stored "
   "value is capped at about 1,000 yuan = 100,000 fen).", min=0, max=100_000)
_k(P + "lost_per_day", "float", {"sichuan": 40.0, "chongqing": 16.0}, "cards/day",
   "Cards reported lost per day; a lost card is declined online at once and offline only once "
   "the blacklist reaches the terminals.", min=0, max=10_000_000, scales=True)
_k(P + "blacklist_push_interval_s", "float", 3600.0, "s", "Terminals receive a new "
   "blacklist (exception file) at this interval.", min=1, max=7 * 86400)
_k(P + "blacklist_push_delay_s", "float", 900.0, "s", "Time from a loss report until the "
   "report can be in a pushed blacklist.", min=0, max=7 * 86400)

# --- provinces: service points ---------------------------------------------------------------
_SP_DEFAULTS = {
    # type: (points, terminals, service_time, skew, upload_interval_s, patience_s)
    "metro": ({"sichuan": 10, "chongqing": 7}, 8, _dist("lognormal", mean=2.4, cv=0.3), 0.8, 900.0, 900.0),
    "bus": ({"sichuan": 120, "chongqing": 80}, 2, _dist("lognormal", mean=2.0, cv=0.4), 0.3, 3600.0, 300.0),
    "scenic_gate": ({"sichuan": 6, "chongqing": 4}, 4, _dist("lognormal", mean=6.0, cv=0.4), 0.6, 900.0, 3600.0),
    "gov_window": ({"sichuan": 3, "chongqing": 2}, 6, _dist("lognormal", mean=480.0, cv=0.5), 0.4, 0.0, 7200.0),
}
_SP_TERMS = {"metro": "stations (gate banks)", "bus": "boarding points (buses)",
             "scenic_gate": "scenic sites", "gov_window": "service halls"}
_SP_TERM1 = {"metro": "gates per station", "bus": "validators per boarding point",
             "scenic_gate": "gates per site", "gov_window": "windows per hall"}
for _t, (_pts, _terms, _st, _skew, _up, _pat) in _SP_DEFAULTS.items():
    S = P + _t + "."
    _k(S + "points", "int", _pts, "points", f"Number of {_SP_TERMS[_t]}.", min=0, max=100_000)
    _k(S + "terminals", "int", _terms, "terminals", f"Terminals per point: {_SP_TERM1[_t]}.",
       min=1, max=10_000)
    _k(S + "service_time", "distribution", _st, "s", "Time one customer occupies a terminal "
       "(for online transactions, excluding the wait for authorisation).")
    _k(S + "point_skew", "float", _skew, "-", "Zipf exponent spreading arrivals over points "
       "(0 = even; larger = a few busy points).", min=0, max=5)
    _k(S + "upload_interval_s", "float", _up, "s", "The merchant uploads offline records in "
       "batches at this interval (0 = immediately, online).", min=0, max=7 * 86400)
    _k(S + "patience_s", "float", _pat, "s", "A customer who would wait longer than this for a "
       "terminal leaves without using the card (balks; counted, not logged). 0 = waits forever.",
       min=0, max=7 * 86400)

M = P + "metro."
_k(M + "fare_rule", "str", "banded", "-", "Metro fare: 'flat' or distance 'banded'.",
   choices=("flat", "banded"))
_k(M + "flat_fare_fen", "int", 200, "fen", "Metro fare when fare_rule = 'flat'.", min=0, max=100_000)
_k(M + "band_km", "floats", [4.0, 8.0, 12.0, 18.0, 24.0, 32.0], "km",
   "Upper bounds of the distance bands (increasing).")
_k(M + "band_fare_fen", "ints", [200, 300, 400, 500, 600, 700, 800], "fen",
   "Fare per band; one more entry than band_km (the last applies beyond the last bound).")
_k(M + "trip_km", "distribution", _dist("lognormal", mean=9.0, cv=0.6), "km",
   "Trip length, which sets the distance-banded fare.")
_k(P + "bus.flat_fare_fen", "int", 200, "fen", "Bus fare (flat).", min=0, max=100_000)
G = P + "scenic_gate."
_k(G + "ticket_fen", "int", {"sichuan": 9000, "chongqing": 6000}, "fen",
   "Full ticket price at a scenic site.", min=0, max=10_000_000)
_k(G + "cardholder_discount_pct", "float", 10.0, "%", "Discount for paying with the "
   "social-security card.", min=0, max=100)
_k(G + "senior_free", "bool", True, "-", "Seniors (65+) enter free.")
_k(P + "gov_window.fee_fen", "int", 0, "fen", "Fee charged per government service item "
   "(the cross-province items are free of charge).", min=0, max=10_000_000)

F = P + "fares."
_k(F + "transfer_window_s", "float", 3600.0, "s", "A bus<->rail tap within this time of the "
   "previous tap on the other mode is a transfer.", min=0, max=86400)
_k(F + "transfer_discount_fen", "int", 200, "fen", "Discount on a transfer leg (a fare up to "
   "this is free).", min=0, max=100_000)
_k(F + "student_discount_pct", "float", 50.0, "%", "Student discount on transit fares.",
   min=0, max=100)
_k(F + "senior_free_rides", "bool", {"sichuan": False, "chongqing": True}, "-",
   "Seniors ride free against a yearly quota (Chongqing: residents over 65).")
_k(F + "senior_quota_per_year", "int", 1200, "rides", "Free rides per senior per year.",
   min=0, max=100_000)
_k(F + "senior_quota_extension", "int", 300, "rides", "Rides a senior may add once the "
   "quota is used.", min=0, max=100_000)

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

# --- demand -------------------------------------------------------------------------------------
_DEMAND = {
    "transit": (40_000.0, WEEKDAY_TRANSIT_PROFILE, 0.6, 0.02),
    "tourism": (1_500.0, DAYTIME_PROFILE, 0.6, 0.15),
    "government": (150.0, OFFICE_PROFILE, 0.7, 0.2),
}
for _c, (_peak, _prof, _share, _cross) in _DEMAND.items():
    D = f"demand.{_c}."
    _k(D + "peak_per_hour", "float", _peak, "arrivals/h", "Arrivals per hour at the profile's "
       "peak (1.0), both provinces together.", min=0, max=1e9, scales=True)
    _k(D + "profile", "floats", list(_prof), "-", "Relative intensity for each clock hour "
       "0..23 (24 numbers, largest normally 1.0).", length=24)
    _k(D + "sichuan_share", "float", _share, "share", "Share of the arrivals at terminals in "
       "Sichuan (the rest in Chongqing).", min=0, max=1)
    _k(D + "cross_province_share", "float", _cross, "share", "Share of arrivals using a card "
       "issued by the other province.", min=0, max=1)
_k("demand.transit.metro_share", "float", 0.55, "share", "Share of transit journeys that "
   "start at a metro gate (the rest on a bus).", min=0, max=1)
_k("demand.transit.transfer_share", "float", 0.15, "share", "Share of transit journeys with "
   "a bus<->rail transfer: the same card taps on the other mode shortly after.", min=0, max=1)
_k("demand.transit.transfer_delay", "distribution", _dist("uniform", low=300.0, high=2400.0),
   "s", "Time from a journey's first tap to its transfer tap.")
_k("demand.government.items", "int", 24, "items", "Cross-province service items on offer "
   "(the first batch had 24).", min=1, max=1000)


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
    for p in PROVINCES:
        for t in SERVICE_TYPES:
            errs += _points_check(cfg, p, t)
    for c in CHANNELS:
        d = cfg["demand"][c]
        if d["peak_per_hour"] > 0 and max(d["profile"]) <= 0:
            errs.append((f"demand.{c}.profile", "must have at least one hour > 0 when peak_per_hour > 0"))
    return errs


def _province_checks(p: str, pc: dict) -> list[tuple[str, str]]:
    errs = []
    if pc["senior_share"] + pc["student_share"] > 1.0:
        errs.append((f"provinces.{p}.student_share",
                     f"senior_share + student_share must be <= 1, got "
                     f"{pc['senior_share']:g} + {pc['student_share']:g}"))
    if pc["balance_min_fen"] > pc["balance_max_fen"]:
        errs.append((f"provinces.{p}.balance_min_fen",
                     f"must be <= balance_max_fen ({pc['balance_max_fen']}), got {pc['balance_min_fen']}"))
    bands = pc["metro"]["band_km"]
    if any(b >= c for b, c in zip(bands, bands[1:])):
        errs.append((f"provinces.{p}.metro.band_km", f"must be strictly increasing, got {bands}"))
    if len(pc["metro"]["band_fare_fen"]) != len(bands) + 1:
        errs.append((f"provinces.{p}.metro.band_fare_fen",
                     f"must have {len(bands) + 1} items (one more than band_km), "
                     f"got {len(pc['metro']['band_fare_fen'])}"))
    return errs


def _demand_share(demand: dict, province: str, service_type: str) -> float:
    """The share of its channel's arrivals that go to ``service_type`` points in ``province``."""
    d = demand[SERVICE_CHANNEL[service_type]]
    share = d["sichuan_share"] if province == "sichuan" else 1.0 - d["sichuan_share"]
    if service_type == "metro":
        share *= d["metro_share"]
    elif service_type == "bus":
        share *= 1.0 - d["metro_share"]
    return share


def _points_check(cfg: dict, p: str, t: str) -> list[tuple[str, str]]:
    """A service type that receives arrivals needs at least one point."""
    d = cfg["demand"][SERVICE_CHANNEL[t]]
    sends = _demand_share(cfg["demand"], p, t) > 0 and d["peak_per_hour"] > 0 and max(d["profile"]) > 0
    if sends and cfg["provinces"][p][t]["points"] == 0:
        return [(f"provinces.{p}.{t}.points", f"must be >= 1: demand.{SERVICE_CHANNEL[t]} sends arrivals there")]
    return []


SCALED_PATHS = tuple(path for path, key in KEY_INDEX.items() if key.scales)

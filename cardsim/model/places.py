"""Places: the named service points of each province, what each can serve, and how far apart they are.

A *point* is one station's exit gate bank, one bus stop's validators, one scenic site's gates or
one service hall's windows. Points come from the scenario: ``provinces.<p>.<type>.named`` ones,
and ``points`` unnamed ones (``point-1``, ...) whose demand follows a Zipf law; with both, the
named weights are shares of the type's demand and the unnamed points share the rest (with only
named points, weights are relative). Each has its share of its type's demand and its
terminals: the point's own count, else the sizing rule (``sizing_utilisation``: the fewest
terminals whose utilisation in the busiest 15 minutes of the point's expected demand, all payers
included, stays at or below the target), else the type's ``terminals``.

A *place* is where a card can be: a province's main city (its metro, buses and halls) or a scenic
site outside it. :func:`travel_s` is the least time between two places; a card's consecutive uses
in different places are never closer than that (``cardsim.model.holders`` plans with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cardsim.config.points import named_points
from cardsim.config.schema import SERVICE_TYPES
from cardsim.domain import PROVINCES
from cardsim.model.distributions import from_spec

#: The main city of each province: where its metro, buses and service halls are.
CITY = {"sichuan": "chengdu", "chongqing": "chongqing"}
#: The tags of terminal ids (:func:`terminal_id`).
PROVINCE_TAG = {"sichuan": "SC", "chongqing": "CQ"}
TYPE_TAG = {"metro": "MET", "bus": "BUS", "scenic_gate": "SCN", "gov_window": "GOV"}


@dataclass(frozen=True)
class Point:
    """One service point: its name, share of its type's demand, terminals and place."""

    province: str
    stype: str
    index: int
    name: str
    share: float          # of the type's demand in the province (shares of a type sum to 1)
    terminals: int
    place: str            # CITY[province], or "site:<name>" for a scenic site
    travel_s: float       # scenic sites: from the main city; else 0
    daily_cap: int        # scenic sites: reservation cap of all visitors a day (0 = none)


def transit_shape(cfg: dict) -> list[float]:
    """The 15-minute shape of a city's transit journeys (all payers): the holder types' purposes
    weighted by their journey shares (commuters and students out and back, others daytime)."""
    holders, prof = cfg["demand"]["holders"], cfg["demand"]["profiles"]
    twoway = holders["commuter"]["journey_share"] + holders["student"]["journey_share"]
    parts = ((twoway / 2, prof["commute_out"]), (twoway / 2, prof["commute_back"]),
             (1.0 - twoway, prof["other"]))
    return _normalised([sum(w * p[s] / sum(p) for w, p in parts) for s in range(96)])


def _normalised(shape: list[float]) -> list[float]:
    total = sum(shape)
    return [x / total for x in shape] if total > 0 else [1.0 / len(shape)] * len(shape)


def daily_demand(cfg: dict, prov: str, stype: str) -> tuple[float, list[float]]:
    """(arrivals a day at all points of the type, all payers; their 15-minute shape summing to 1)."""
    pc = cfg["provinces"][prov]
    sp = pc[stype]
    if stype in ("metro", "bus"):
        return sp["journeys_per_day"], transit_shape(cfg)
    if stype == "scenic_gate":
        # the gates modelled are the card lanes: only card visitors use them
        return sp["visitors_per_day"] * sp["card_share"], _normalised(cfg["demand"]["profiles"]["scenic"])
    return sp["cases_per_day"], _normalised(cfg["demand"]["profiles"]["office"])


def sized_terminals(peak_rate_per_s: float, mean_service_s: float, target: float) -> int:
    """The fewest terminals whose utilisation at ``peak_rate_per_s`` stays <= ``target``."""
    return max(1, math.ceil(peak_rate_per_s * mean_service_s / target - 1e-9))


def build_points(cfg: dict, prov: str, stype: str) -> list[Point]:
    """The points of one type in one province: the named ones by name, then the unnamed."""
    sp = cfg["provinces"][prov][stype]
    named = [(name, f["weight"], f) for name, f in named_points(sp)]
    zipf = [1.0 / (k + 1) ** sp["point_skew"] for k in range(sp["points"])]
    if named and zipf:
        # named weights are shares of the type's demand; unnamed points share the rest
        rest = max(0.0, 1.0 - sum(w for _n, w, _f in named)) / sum(zipf)
        zipf = [z * rest for z in zipf]
    entries = named + [(f"point-{k + 1}", z, {}) for k, z in enumerate(zipf)]
    total = sum(w for _n, w, _f in entries)
    mean_service = from_spec(sp["service_time"]).mean
    peak = 0.0
    if sp["sizing_utilisation"] > 0:
        per_day, shape = daily_demand(cfg, prov, stype)
        peak = per_day * max(shape) / 900.0
    points = []
    for k, (name, w, f) in enumerate(entries):
        share = w / total
        terms = f.get("terminals")
        if terms is None:
            target = sp["sizing_utilisation"]
            terms = (sized_terminals(peak * share, mean_service, target) if target > 0
                     else sp["terminals"])
        site = stype == "scenic_gate"
        points.append(Point(prov, stype, k, name, share, terms,
                            f"site:{name}" if site else CITY[prov],
                            f.get("travel_h", 0.0) * 3600.0 if site else 0.0,
                            f.get("daily_cap", 0) if site else 0))
    return points


def all_points(cfg: dict) -> dict[str, dict[str, list[Point]]]:
    """Every province's points, by service point type."""
    return {p: {t: build_points(cfg, p, t) for t in SERVICE_TYPES} for p in PROVINCES}


class Places:
    """The least travel time between places (seconds), from the scenario's points."""

    def __init__(self, cfg: dict, points: dict[str, dict[str, list[Point]]]):
        self.intercity_s = _low(cfg["demand"]["intercity"]["travel_time"])
        self.site = {pt.place: pt for p in PROVINCES for pt in points[p]["scenic_gate"]}
        self.city_province = {c: p for p, c in CITY.items()}

    def _anchor(self, place: str) -> tuple[str, float]:
        """(the main city a place is reached from, seconds from it)."""
        pt = self.site.get(place)
        return (CITY[pt.province], pt.travel_s) if pt is not None else (place, 0.0)

    def travel_s(self, a: str, b: str) -> float:
        """Least seconds from place ``a`` to place ``b`` (0 for the same place)."""
        if a == b:
            return 0.0
        ca, da = self._anchor(a)
        cb, db = self._anchor(b)
        return da + db + (self.intercity_s if ca != cb else 0.0)


def _low(spec: dict) -> float:
    """The least value a distribution takes (uniform: low; others: taken as their mean / 2)."""
    return spec["low"] if spec["dist"] == "uniform" else from_spec(spec).mean / 2.0


def terminal_id(province: str, stype: str, point: int, terminal: int) -> str:
    """The id of terminal ``terminal`` of point ``point`` (both 0-based), e.g. ``SC-MET-012-03``;
    :func:`terminal_point` reads the point back."""
    return f"{PROVINCE_TAG[province]}-{TYPE_TAG[stype]}-{point + 1:03d}-{terminal + 1:02d}"


def terminal_point(terminal_id) -> int:
    """The service point index in a terminal id (``SC-MET-012-03`` -> 11); 0 when unreadable."""
    parts = terminal_id.split("-") if isinstance(terminal_id, str) else ()
    try:
        return max(0, int(parts[2]) - 1)
    except (IndexError, ValueError):
        return 0

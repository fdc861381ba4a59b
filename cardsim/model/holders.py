"""Card holders and their day: who travels, how often, when, where and by which legs.

Each card belongs to a holder of one type: local types (commuter, occasional rider, senior,
student) who travel in their own province's main city, tourists (a scenic site, then maybe some
journeys) and visitors from the other province (an intercity train, journeys there, maybe the train
back). A holder's day is a run of steps (:class:`Step` describes one): a journey (one or two legs,
a tap each), a scenic visit, a government case or a move to another city, each with its planned
time and the walks and waits the holder will take around it. The whole day is drawn from the
holder's own stream (a 64-bit key: :class:`HashStream`), so changing any capacity leaves every
plan as it was (common random numbers).

The drawing rules are compiled (``cardsim.model.kernels.plan``, their one home); the
:class:`Planner` holds what they read (profiles, distributions as quantile tables, points' shares)
and hands their rows over as a :class:`PlanBlock` of columns, which the traveller reads as it goes
(:meth:`Planner.plans` gives the same days as lists of :class:`Step`, to read).

How many holders of each type travel comes from the scenario's cited volumes
(:func:`local_counts`): a city's journeys by every means of payment times the card's share, split
over the types by ``journey_share`` and divided by each type's mean journeys a day.
"""

from __future__ import annotations

from itertools import accumulate
from typing import NamedTuple

import numpy as np

from cardsim.config.schema import HOLDER_TYPES
from cardsim.domain import PROVINCES
from cardsim.model import kernels as K
from cardsim.model.distributions import from_spec
from cardsim.model.streams import MASK64, mix64

GOLDEN = 0x9E3779B97F4A7C15
QUANTILES = 4096        # resolution of the per-holder draws (quantile tables, see Planner)
_U53 = 1.0 / 9007199254740992.0

# Step kinds
JOURNEY, SCENIC, GOV, MOVE = "journey", "scenic", "gov", "move"
_KINDS = {K.K_JOURNEY: JOURNEY, K.K_SCENIC: SCENIC, K.K_GOV: GOV, K.K_MOVE: MOVE}
_MODES = ("metro", "bus")
#: The first step's purpose of each holder type (the profile its first departure is drawn from).
FIRST_PURPOSE = {"commuter": "commute_out", "student": "commute_out", "occasional": "other",
                 "senior": "other", "visitor": "intercity", "tourist": "scenic", "gov": "office"}
#: What each holder type's plan holds (``kernels.plan``) and the profile of its way back.
_PLAN_KIND = {"commuter": (K.H_TWOWAY, "commute_back"), "student": (K.H_TWOWAY, "commute_back"),
              "occasional": (K.H_LOCAL, "other"), "senior": (K.H_LOCAL, "other"),
              "visitor": (K.H_VISITOR, "intercity"), "tourist": (K.H_TOURIST, "other"),
              "gov": (K.H_GOV, "other")}


class HashStream:
    """A holder's own random stream in Python: U[0, 1) from SplitMix64 of (key, counter), the
    numbers the compiled plans draw (``kernels.uniform``); tour groups' sizes come from one."""

    __slots__ = ("key", "n")

    def __init__(self, key: int):
        self.key = key
        self.n = 0

    def u(self) -> float:
        self.n = n = self.n + 1
        x = (self.key + n * GOLDEN + GOLDEN) & MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
        return ((x ^ (x >> 31)) >> 11) * _U53


def mix64_np(x: np.ndarray) -> np.ndarray:
    """:func:`mix64` on an array of uint64 (wrapping arithmetic), for the holders' keys."""
    x = x + np.uint64(GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def holder_keys(group_key: int, n: int, day: int) -> np.ndarray:
    """The stream keys of holders 0..n-1 of a group on ``day`` (uint64)."""
    base = mix64_np(np.uint64(group_key) ^ np.arange(n, dtype=np.uint64))
    return mix64_np(base ^ np.uint64(mix64(day + 1)))


class Profile:
    """A 15-minute profile as a distribution of clock seconds in [0, 86400) (the draws are
    ``kernels.profile_clock`` and ``kernels.profile_after``)."""

    def __init__(self, weights: list[float]):
        self.cum = np.cumsum(np.asarray(weights, dtype=float))

    def clock(self, u: float, v: float) -> float:
        """The clock second of quantile ``u``, placed in its slot by ``v``."""
        return K.profile_clock(self.cum, u, v)

    def after(self, clock: float, u: float, v: float) -> float:
        """A clock second drawn from the profile beyond ``clock`` (the last open slot when none
        is left)."""
        return K.profile_after(self.cum, clock, u, v)

    def first_clocks(self, keys: np.ndarray) -> np.ndarray:
        """Each holder's first departure: the first two draws of its stream (``keys``)."""
        return K.first_clocks(keys, self.cum)


class Leg(NamedTuple):
    """One tap of a journey: metro (at the destination station's exit gates) or bus (boarding);
    ``ride`` its riding seconds (``km`` at the mode's ``speed_kmh``); ``jitter`` in [0, 1) places
    the holder in the wave of passengers they come with."""

    mode: str
    point: int
    km: float
    ride: float = 0.0
    jitter: float = 0.0


class Step(NamedTuple):
    """One thing a holder does: ``kind`` is journey | scenic | gov | move; ``at`` the planned
    simulated second; ``province`` where it happens. ``access``: the walk to a journey's first
    leg; ``transfer``: the walk between its legs; ``after``: the time before the holder's next
    step can start (a gap after a journey or a case, the visit at a site, the train of a move)."""

    kind: str
    at: float
    province: str
    legs: tuple[Leg, ...] = ()
    point: int = 0
    service: str = ""
    access: float = 0.0
    transfer: float = 0.0
    after: float = 0.0


class PlanBlock:
    """The plans of a block of holders as columns, one entry a step, each holder's steps
    ``first[i]`` to ``first[i] + count[i]`` (what :class:`cardsim.model.demand.Traveller` reads
    as it goes): ``kind`` (``kernels.K_*``), ``at``, ``prov`` (an index of ``PROVINCES``),
    ``point`` and ``item`` (a site's or hall's index, a case's item), the walks and gaps of
    :class:`Step`, ``legs``, and per leg (``mode[leg][j]``, ...) its mode (``kernels.M_*``),
    stop or station, km, riding seconds and wave jitter.

    Performance shortcut: a step is read where it lies, not made into a :class:`Step` (making
    half a million named tuples and their legs from the plan's rows was a tenth of a run); each
    column is one ``tolist`` of the compiled plan's output, integers as small cached ones."""

    __slots__ = ("kind", "at", "prov", "point", "item", "after", "access", "transfer", "legs",
                 "mode", "stop", "km", "ride", "jitter", "first", "count")

    def __init__(self, rows: np.ndarray, counts: np.ndarray):
        cols = rows.T
        ints = cols.astype(np.int64)
        self.kind, self.prov, self.point, self.item, self.legs = (
            ints[c].tolist() for c in (K.S_KIND, K.S_PROV, K.S_POINT, K.S_ITEM, K.S_LEGS))
        self.at, self.after, self.access, self.transfer = (
            cols[c].tolist() for c in (K.S_AT, K.S_AFTER, K.S_ACCESS, K.S_TRANSFER))
        legs = [K.S_LEG + k * K.LEG_W for k in range(2)]
        self.mode = tuple(ints[o].tolist() for o in legs)
        self.stop = tuple(ints[o + 1].tolist() for o in legs)
        self.km, self.ride, self.jitter = (tuple(cols[o + c].tolist() for o in legs)
                                           for c in (2, 3, 4))
        self.count = counts.tolist()
        self.first = list(accumulate([0] + self.count[:-1]))

    def step(self, j: int) -> Step:
        """Step ``j`` as a :class:`Step` (for reading a plan; the traveller reads the columns)."""
        kind = _KINDS[self.kind[j]]
        prov = PROVINCES[self.prov[j]]
        if kind is JOURNEY:
            legs = tuple(Leg(_MODES[self.mode[k][j]], self.stop[k][j], self.km[k][j],
                             self.ride[k][j], self.jitter[k][j]) for k in range(self.legs[j]))
            return Step(kind, self.at[j], prov, legs, 0, "", self.access[j], self.transfer[j],
                        self.after[j])
        return Step(kind, self.at[j], prov, (), self.point[j], self.service(j), 0.0, 0.0,
                    self.after[j])

    def service(self, j: int) -> str:
        """What step ``j`` (a scenic visit or a government case) asks its terminal for."""
        kind = self.kind[j]
        return ("scenic_gate" if kind == K.K_SCENIC else
                government_item(self.item[j]) if kind == K.K_GOV else "")

    def plans(self) -> list[list[Step]]:
        """Every holder's steps (for reading the plans)."""
        return [[self.step(j) for j in range(f, f + c)] for f, c in zip(self.first, self.count)]


def _cum(pmf: list[float], skip_zero: bool) -> list[float]:
    return list(accumulate(pmf[1 if skip_zero else 0:]))


def mean_journeys(pmf: list[float], skip_zero: bool) -> float:
    lo = 1 if skip_zero else 0
    mass = sum(pmf[lo:])
    return sum(k * p for k, p in enumerate(pmf) if k >= lo) / mass if mass > 0 else 0.0


def mode_shares(cfg: dict, prov: str) -> tuple[float, float, float, float]:
    """(metro only, bus only, metro+bus, bus+bus) shares of a city's card journeys, so that the
    taps per mode follow the cited journeys per mode."""
    pc, t = cfg["provinces"][prov], cfg["demand"]["transit"]
    legs_m, legs_b = pc["metro"]["journeys_per_day"], pc["bus"]["journeys_per_day"]
    tau, beta = t["transfer_share"], t["bus_bus_share"]
    if legs_m + legs_b <= 0:
        return 0.0, 1.0, 0.0, 0.0
    n = (legs_m + legs_b) / (1.0 + tau + beta)
    pm = min(max(legs_m / n - tau, 0.0), 1.0 - tau - beta)
    return pm, 1.0 - tau - beta - pm, tau, beta


def card_journeys(cfg: dict, prov: str) -> float:
    """Card journeys a day in a province's main city (before visitors' and tourists' share)."""
    pc, t = cfg["provinces"][prov], cfg["demand"]["transit"]
    legs = (pc["metro"]["journeys_per_day"] + pc["bus"]["journeys_per_day"]) * pc["transit_card_share"]
    return legs / (1.0 + t["transfer_share"] + t["bus_bus_share"])


def local_counts(cfg: dict, prov: str, visiting_journeys: float) -> dict[str, int]:
    """Travelling local holders of each type on a day, from the city's card journeys less the
    journeys visitors and tourists make there."""
    holders = cfg["demand"]["holders"]
    local = max(0.0, card_journeys(cfg, prov) - visiting_journeys)
    total = sum(holders[h]["journey_share"] for h in HOLDER_TYPES)
    out = {}
    for h in HOLDER_TYPES:
        m = mean_journeys(holders[h]["journeys_pmf"], True)
        out[h] = round(local * holders[h]["journey_share"] / total / m) if m > 0 else 0
    return out


class Planner:
    """Draws holders' plans for one scenario (its points, profiles and distributions)."""

    def __init__(self, cfg: dict, points: dict, start_s: float):
        self.cfg = cfg
        self.start_s = start_s             # the clock second at sim_time 0
        self.profiles = {k: Profile(v) for k, v in cfg["demand"]["profiles"].items()}
        d, pcs = cfg["demand"], cfg["provinces"]
        dist = {name: from_spec(spec) for name, spec in (
            ("access", d["transit"]["access_walk"]), ("transfer", d["transit"]["transfer_walk"]),
            ("gap", d["transit"]["min_gap"]), ("visit", d["tourism"]["visit_time"]),
            ("intercity", d["intercity"]["travel_time"]))}
        # Performance shortcut: each distribution as a table of QUANTILES quantiles, read by
        # index (a lognormal's exact quantile costs ~3 us in Python; a table read a few ns)
        q = (np.arange(QUANTILES) + 0.5) / QUANTILES

        def table(d) -> np.ndarray:
            return np.array([d.quantile(x) for x in q.tolist()])

        walks = [table(dist[k]) for k in ("access", "transfer", "gap", "visit", "intercity")]
        #: per province: the plan's tables (kernels.T_*), mode mix, stations' and stops' shares
        self.place = {}
        for p in points:
            km = [table(from_spec(pcs[p][m]["trip_km"])) for m in _MODES]
            shares = [np.array(list(accumulate(pt.share for pt in points[p][m])), dtype=float)
                      for m in _MODES]
            self.place[p] = (np.vstack(walks + km), np.array(list(accumulate(mode_shares(cfg, p)))),
                             *shares, np.array([float(pcs[p][m]["speed_kmh"]) for m in _MODES]))
        zipf = (1.0 / (j + 1) for j in range(d["government"]["items"]))
        self.items = np.array(list(accumulate(zipf)))
        self.return_share = np.array([d["intercity"]["return_share"]])
        local = set(HOLDER_TYPES)
        self._journeys = {h: (np.array(_cum(v["journeys_pmf"], h in local)), 1 if h in local else 0)
                          for h, v in d["holders"].items()}
        self._prof = {h: np.vstack([self.profiles[FIRST_PURPOSE[h]].cum, self.profiles["other"].cum,
                                    self.profiles[back].cum])
                      for h, (_kind, back) in _PLAN_KIND.items()}
        self._none = (np.zeros(1), 0)     # government cases make no journeys
        # rows a holder's plan may take (kernels.plan writes unchecked): its journeys, and a
        # train there, a site or a case, a train back
        self._width = max(len(c) for c, _lo in self._journeys.values()) + 3

    def first_clocks(self, htype: str, keys: np.ndarray) -> np.ndarray:
        """The first departures (clock seconds) of holders of ``htype`` with these keys."""
        return self.profiles[FIRST_PURPOSE[htype]].first_clocks(keys)

    def block(self, htype: str, home: str, host: str, site: int, keys: np.ndarray,
              clocks: np.ndarray, day: int) -> PlanBlock:
        """The day of each holder of ``htype`` with these keys and first departures (clock
        seconds; a tour group's members come a few seconds apart): ``home`` the card's province,
        ``host`` where the day happens, ``site`` the scenic site or the hall (its index)."""
        kind = _PLAN_KIND[htype][0]
        tables, modes, metro, bus, speeds = self.place[host]
        jcum, jlo = self._journeys.get(htype, self._none)
        extra = self.items if kind == K.H_GOV else self.return_share
        out = np.zeros((len(keys) * self._width, K.STEP_W))
        counts = np.empty(len(keys), dtype=np.int64)
        rows = K.plan(out, counts, kind, keys, clocks, day * 86400.0 - self.start_s,
                      PROVINCES.index(home), PROVINCES.index(host), site, extra, jcum, jlo,
                      self._prof[htype], tables, modes, metro, bus, speeds)
        return PlanBlock(out[:rows], counts)

    def plans(self, htype: str, home: str, host: str, site: int, keys: np.ndarray,
              clocks: np.ndarray, day: int) -> list[list[Step]]:
        """:meth:`block`'s plans as each holder's list of steps."""
        return self.block(htype, home, host, site, keys, clocks, day).plans()


#: Cross-province service items. The seed names 24 in the first batch without listing them; these
#: names are illustrative. The pension-insurance transfer, which the seed singles out, is first.
GOVERNMENT_ITEMS = (
    "pension_transfer", "medical_insurance_transfer", "unemployment_insurance_transfer",
    "pension_qualification", "contribution_record", "card_application", "card_loss_report",
    "card_replacement", "card_activation", "employment_registration", "unemployment_registration",
    "job_seeker_registration", "startup_loan", "skill_certificate_query",
    "professional_title_query", "work_injury_record", "maternity_insurance_record",
    "retirement_application", "pension_payment_record", "medical_record_filing",
    "talent_archive_transfer", "labour_dispute_filing", "training_subsidy", "social_security_query",
)


def government_item(i: int) -> str:
    """The ``i``-th service item (0-based); items beyond the named ones are ``item_NNN``."""
    return GOVERNMENT_ITEMS[i] if i < len(GOVERNMENT_ITEMS) else f"item_{i + 1:03d}"

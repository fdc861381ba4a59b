"""Card holders and their day: who travels, how often, when, where and by which legs.

Each card belongs to a holder of one type: local types (commuter, occasional rider, senior,
student) who travel in their own province's main city, tourists (a scenic site, then maybe some
journeys) and visitors from the other province (an intercity train, journeys there, maybe the train
back). A holder's day is a :class:`Plan`: a first departure and a list of steps, each a journey
(one or two legs, a tap each), a scenic visit, a government case or a move to another city. The
plan is drawn from the holder's own stream (:class:`HashStream`, keyed by the holder), so changing
any capacity leaves every plan as it was (common random numbers).

How many holders of each type travel comes from the scenario's cited volumes
(:func:`local_counts`): a city's journeys by every means of payment times the card's share, split
over the types by ``journey_share`` and divided by each type's mean journeys a day.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from cardsim.config.schema import HOLDER_TYPES
from cardsim.model.distributions import from_spec
from cardsim.model.places import Point
from cardsim.model.streams import MASK64, mix64

GOLDEN = 0x9E3779B97F4A7C15
QUANTILES = 4096        # resolution of the per-holder draws (see Planner.draw)
_U53 = 1.0 / 9007199254740992.0

# Step kinds
JOURNEY, SCENIC, GOV, MOVE = "journey", "scenic", "gov", "move"
#: The first step's purpose of each holder type (the profile its first departure is drawn from).
FIRST_PURPOSE = {"commuter": "commute_out", "student": "commute_out", "occasional": "other",
                 "senior": "other", "visitor": "intercity", "tourist": "scenic", "gov": "office"}


class HashStream:
    """A holder's own random stream: U[0, 1) from SplitMix64 of (key, counter), so a holder's
    draws need no generator object (creating a numpy generator costs ~20 us; a draw here ~0.4 us)."""

    __slots__ = ("key", "n")

    def __init__(self, key: int):
        self.key = key
        self.n = 0

    def u(self) -> float:
        # mix64 inlined: this is called ~20 times per holder
        self.n = n = self.n + 1
        x = (self.key + n * GOLDEN + GOLDEN) & MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
        return ((x ^ (x >> 31)) >> 11) * _U53


class BlockStream(HashStream):
    """A :class:`HashStream` whose first draws were computed in one numpy pass for many holders
    (:func:`uniforms`): the same numbers, read from a list (0.05 us a draw instead of 0.6)."""

    __slots__ = ("block",)

    def __init__(self, key: int, block: list[float]):
        super().__init__(key)
        self.block = block

    def u(self) -> float:
        n = self.n
        if n < len(self.block):
            self.n = n + 1
            return self.block[n]
        return HashStream.u(self)


def uniforms(keys: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` draws of each holder's :class:`HashStream`: an array (len(keys), k)."""
    n = np.arange(1, k + 1, dtype=np.uint64) * np.uint64(GOLDEN)
    h = mix64_np(keys[:, None] + n[None, :])
    return (h >> np.uint64(11)).astype(np.float64) * _U53


def mix64_np(x: np.ndarray) -> np.ndarray:
    """:func:`mix64` on an array of uint64 (wrapping arithmetic), for vectorised first draws."""
    x = x + np.uint64(GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def holder_keys(group_key: int, n: int, day: int) -> np.ndarray:
    """The stream keys of holders 0..n-1 of a group on ``day`` (uint64)."""
    base = mix64_np(np.uint64(group_key) ^ np.arange(n, dtype=np.uint64))
    return mix64_np(base ^ np.uint64(mix64(day + 1)))


def first_uniforms(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two draws of each holder's :class:`HashStream` (vectorised, bit for bit)."""
    out = []
    for n in (1, 2):
        h = mix64_np(keys + np.uint64((n * GOLDEN) & MASK64))
        out.append((h >> np.uint64(11)).astype(np.float64) * _U53)
    return out[0], out[1]


class Profile:
    """A 15-minute profile as a distribution of clock seconds in [0, 86400)."""

    def __init__(self, weights: list[float]):
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def clock(self, u: float, v: float) -> float:
        """The clock second of quantile ``u``, placed in its slot by ``v``."""
        s = bisect_right(self.cum, u * self.total)
        s = s if s < len(self.cum) else len(self.cum) - 1
        return (s + v) * 900.0

    def clock_np(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        s = np.minimum(np.searchsorted(np.array(self.cum), u * self.total, side="right"),
                       len(self.cum) - 1)
        return (s + v) * 900.0

    def cdf(self, clock: float) -> float:
        s = int(clock // 900.0)
        if s >= len(self.cum):
            return 1.0
        before = self.cum[s - 1] if s > 0 else 0.0
        return (before + (self.cum[s] - before) * (clock / 900.0 - s)) / self.total

    def after(self, clock: float, u: float, v: float) -> float:
        """A clock second drawn from the profile beyond ``clock`` (the last open slot when none
        is left)."""
        c = self.cdf(clock)
        return self.clock(c + u * (1.0 - c), v)


class Leg(NamedTuple):
    """One tap of a journey: metro (at the destination station's exit gates) or bus (boarding)."""

    mode: str
    point: int
    km: float


class Step(NamedTuple):
    """One thing a holder does: ``kind`` is journey | scenic | gov | move; ``at`` the planned
    clock-free simulated second; ``province`` where it happens."""

    kind: str
    at: float
    province: str
    legs: tuple[Leg, ...] = ()
    point: int = 0
    service: str = ""


def _cum(pmf: list[float], skip_zero: bool) -> list[float]:
    return list(accumulate(pmf[1 if skip_zero else 0:]))


def _cum_draw(cum: list[float], u: float, lo: int) -> int:
    """The count (from ``lo``) of quantile ``u`` of a cumulated pmf."""
    return lo + min(bisect_left(cum, u * cum[-1]), len(cum) - 1) if cum[-1] > 0 else lo


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
        prof = cfg["demand"]["profiles"]
        self.profiles = {k: Profile(v) for k, v in prof.items()}
        self.points = points
        self.cum = {(p, t): list(accumulate(pt.share for pt in pts))
                    for p, by in points.items() for t, pts in by.items()}
        self.modes = {p: list(accumulate(mode_shares(cfg, p))) for p in points}
        d, pcs = cfg["demand"], cfg["provinces"]
        self.dist = {name: from_spec(spec) for name, spec in (
            ("access", d["transit"]["access_walk"]), ("transfer", d["transit"]["transfer_walk"]),
            ("gap", d["transit"]["min_gap"]), ("visit", d["tourism"]["visit_time"]),
            ("intercity", d["intercity"]["travel_time"]), ("group", d["tourism"]["group_size"]))}
        self.dist.update({f"km/{p}/{m}": from_spec(pcs[p][m]["trip_km"])
                          for p in points for m in ("metro", "bus")})
        # Performance shortcut: each distribution as a table of QUANTILES quantiles, read by
        # index (a lognormal's exact quantile costs ~3 us in Python; a table read ~0.1 us)
        self.tables = {name: [dist.quantile((i + 0.5) / QUANTILES) for i in range(QUANTILES)]
                       for name, dist in self.dist.items()}
        self.km_tables = {(p, m): self.tables[f"km/{p}/{m}"] for p in points for m in ("metro", "bus")}
        self.items = list(accumulate(1.0 / (j + 1) for j in range(d["government"]["items"])))
        # each type's journeys-a-day distribution, cumulated once (not once per holder)
        local = set(HOLDER_TYPES)
        self._journeys = {h: (_cum(v["journeys_pmf"], h in local), 1 if h in local else 0)
                          for h, v in d["holders"].items()}

    def journeys(self, htype: str, u: float) -> int:
        """A holder's number of journeys of the day (local types: at least one; visitors and
        tourists: possibly none) at quantile ``u``."""
        cum, lo = self._journeys[htype]
        return _cum_draw(cum, u, lo)

    def draw(self, name: str, s: HashStream) -> float:
        """A draw of the named distribution from the holder's stream."""
        q = self.tables[name]
        return q[int(s.u() * QUANTILES)]

    def pick(self, prov: str, stype: str, u: float) -> int:
        cum = self.cum[(prov, stype)]
        return min(bisect_left(cum, u * cum[-1]), len(cum) - 1)

    # --- the steps ----------------------------------------------------------------------------

    def journey(self, s: HashStream, prov: str, at: float) -> Step:
        """A journey in ``prov``'s main city planned for ``at``: its mode mix and legs."""
        u = s.u()
        c = self.modes[prov]
        kind = min(bisect_left(c, u * c[-1]), 3)
        modes = (("metro",), ("bus",), ("metro", "bus") if s.u() < 0.5 else ("bus", "metro"),
                 ("bus", "bus"))[kind]
        legs = []
        for m in modes:
            point = self.pick(prov, m, s.u())
            km = self.km_tables[(prov, m)][int(s.u() * QUANTILES)]
            legs.append(Leg(m, point, km if km > 0.5 else 0.5))
        return Step(JOURNEY, at, prov, tuple(legs))

    def _sim(self, clock: float, day: int) -> float:
        return day * 86400.0 + clock - self.start_s

    def times_after(self, s: HashStream, purposes: list[str], clock0: float, day: int) -> list[float]:
        """Planned simulated times of later steps, each drawn from its purpose's profile after
        ``clock0``, in order."""
        clocks = sorted(self.profiles[p].after(clock0, s.u(), s.u()) for p in purposes)
        return [self._sim(c, day) for c in clocks]

    def first_clock(self, htype: str, s: HashStream) -> float:
        """The first departure's clock second: the stream's first two draws (see first_uniforms)."""
        return self.profiles[FIRST_PURPOSE[htype]].clock(s.u(), s.u())

    def local(self, htype: str, prov: str, s: HashStream, day: int) -> list[Step]:
        """A local holder's day: n journeys (commuters and students: out in the morning profile,
        back in the evening one; others: daytime)."""
        c0 = self.first_clock(htype, s)
        n = self.journeys(htype, s.u())
        twoway = htype in ("commuter", "student")
        later = (["commute_back"] if twoway else ["other"]) + ["other"] * (n - 2) if n > 1 else []
        times = [self._sim(c0, day)] + self.times_after(s, later, c0, day)
        return [self.journey(s, prov, t) for t in times]

    def visitor(self, home: str, away: str, s: HashStream, day: int) -> list[Step]:
        """An intercity visitor: the train to ``away``, journeys there, maybe the train back."""
        c0 = self.first_clock("visitor", s)
        n = self.journeys("visitor", s.u())
        steps = [Step(MOVE, self._sim(c0, day), away)]
        times = self.times_after(s, ["other"] * n, c0 + 3600.0, day)
        steps += [self.journey(s, away, t) for t in times]
        if s.u() < self.cfg["demand"]["intercity"]["return_share"]:
            back = self.times_after(s, ["intercity"], (times[-1] - self._sim(0.0, day)) if times
                                    else c0 + 3600.0, day)[0]
            steps.append(Step(MOVE, back, home))
        return steps

    def tourist(self, home: str, site: Point, s: HashStream, day: int, clock: float | None) -> list[Step]:
        """A tourist: (from the other province: the train first), the site, then journeys in the
        site's province. ``clock`` is the group's arrival time at the site (None: drawn)."""
        c0 = self.first_clock("tourist", s)
        c0 = c0 if clock is None else clock
        steps = [] if home == site.province else [Step(MOVE, self._sim(c0, day) - 1.0, site.province)]
        steps.append(Step(SCENIC, self._sim(c0, day), site.province, point=site.index,
                          service="scenic_gate"))
        n = self.journeys("tourist", s.u())
        steps += [self.journey(s, site.province, t)
                  for t in self.times_after(s, ["other"] * n, c0 + 3600.0, day)]
        return steps

    def gov(self, prov: str, hall: int, s: HashStream, day: int) -> list[Step]:
        """A government case at hall ``hall`` of ``prov`` during office hours: an item drawn
        with Zipf weights over the items on offer."""
        at = self._sim(self.first_clock("gov", s), day)
        j = min(bisect_right(self.items, s.u() * self.items[-1]), len(self.items) - 1)
        return [Step(GOV, at, prov, point=hall, service=government_item(j))]


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

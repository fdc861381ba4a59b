"""Demand: card holders living their day, and demand sources.

A *demand source* is what a :class:`cardsim.model.simulation.Simulation` takes its arrivals and
loss reports from: an object with ``start(sim)`` that starts SimPy processes calling the
simulation's public arrival methods (``arrive_transit``, ``turns_away``, ``arrive_online``,
``report_lost``). :class:`ScenarioDemand` draws them from the scenario's holders (the default);
``cardsim.audit.retime.TraceDemand`` feeds a log's arrivals instead.

:class:`ScenarioDemand` builds the day's *groups* of holders (:func:`build_groups`: local types per
city, intercity visitors, tourists per site, government cases per hall, with their counts from
the cited volumes), dispatches each group's holders at their first departure (in time order, a
block of holders' plans drawn in one compiled call) and runs each holder's plan
(:class:`Traveller`): a step starts when its planned time has come, the previous step is over and
the holder has had time to get there (:meth:`cardsim.model.places.Places.travel_s`), so a card is
never in two places at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cardsim.domain import PROVINCES
from cardsim.errors import ScenarioError
from cardsim.model.background import wave_after
from cardsim.model.card import ADULT, SENIOR, STUDENT, Card
from cardsim.model.distributions import Exponential, from_spec, sampler, uniform_sampler
from cardsim.model.holders import (
    HashStream, Planner, PlanBlock, holder_keys, local_counts, mean_journeys,
)
from cardsim.model.kernels import K_JOURNEY, K_MOVE, K_SCENIC, M_BUS
from cardsim.model.places import CITY, Point

if TYPE_CHECKING:  # pragma: no cover
    from cardsim.model.simulation import Simulation

#: The card category of each local holder type.
LOCAL_CATEGORY = {"commuter": ADULT, "occasional": ADULT, "senior": SENIOR, "student": STUDENT}
TOUR_GAP_S = 3.0       # seconds between tour-group members reaching the gates
DISPATCH_BLOCK = 256   # holders whose plans are drawn together


class DemandSource(Protocol):
    """Where a simulation's arrivals and loss reports come from."""

    def start(self, sim: "Simulation") -> None:
        """Start the SimPy processes that feed ``sim`` (called once, by ``Simulation.run``)."""


@dataclass(frozen=True)
class Group:
    """Holders of one kind who share a stream key, a card range and where they travel."""

    name: str              # names the group's stream: holders/<name>
    htype: str             # a local type, "visitor", "tourist" or "gov"
    card_province: str
    category: str
    n: int
    first_index: int       # the group's first index in its (card province, category) range
    host: str              # the province the group's day happens in (visitors: where they go)
    point: Point | None = None   # tourists: the site; government cases: the hall
    tours: tuple[int, ...] = ()  # tourists: the sizes of the tour groups, first holders first


def _split(n: float, senior_share: float) -> tuple[int, int]:
    """(adults, seniors) of ``n`` holders."""
    seniors = round(n * senior_share)
    return round(n) - seniors, seniors


def build_groups(cfg: dict, points: dict, streams) -> tuple[list[Group], dict]:
    """The day's holder groups, in a fixed order, and the scenic visits refused by a site's
    reservation cap ({province: {site: visitors}})."""
    counters: dict[tuple[str, str], int] = {}
    groups: list[Group] = []
    refused: dict = {p: {} for p in PROVINCES}

    def add(name, htype, cprov, cat, n, host, point=None, tours=()):
        if n <= 0:
            return
        key = (cprov, cat)
        groups.append(Group(name, htype, cprov, cat, n, counters.get(key, 0), host, point, tours))
        counters[key] = counters.get(key, 0) + n

    other = {PROVINCES[0]: PROVINCES[1], PROVINCES[1]: PROVINCES[0]}
    holders = cfg["demand"]["holders"]
    for p in PROVINCES:
        pc = cfg["provinces"][p]
        visiting = 0.0
        n_vis = round(cfg["provinces"][other[p]]["intercity_trips_per_day"])
        add(f"{other[p]}/visitor/{p}", "visitor", other[p], ADULT, n_vis, p)
        visiting += n_vis * mean_journeys(holders["visitor"]["journeys_pmf"], False)
        visiting += _tourist_groups(cfg, p, points[p]["scenic_gate"], add, refused[p], streams)
        for hall in points[p]["gov_window"]:
            n = pc["gov_window"]["cases_per_day"] * hall.share
            cross = pc["gov_window"]["cross_province_share"]
            for cprov, m in ((p, n * (1 - cross)), (other[p], n * cross)):
                adults, seniors = _split(m, cfg["provinces"][cprov]["senior_share"])
                add(f"{cprov}/gov/{p}/{hall.name}", "gov", cprov, ADULT, adults, p, hall)
                add(f"{cprov}/gov-senior/{p}/{hall.name}", "gov", cprov, SENIOR, seniors, p, hall)
        for htype, n in local_counts(cfg, p, visiting).items():
            add(f"{p}/{htype}", htype, p, LOCAL_CATEGORY[htype], n, p)
    _check_ranges(cfg, counters)
    return groups, refused


def _tourist_groups(cfg: dict, p: str, sites: list[Point], add, refused: dict, streams) -> float:
    """Add the card visitors of each site of ``p``; returns their expected transit journeys."""
    sp = cfg["provinces"][p]["scenic_gate"]
    other = PROVINCES[1] if p == PROVINCES[0] else PROVINCES[0]
    pmf = cfg["demand"]["holders"]["tourist"]["journeys_pmf"]
    journeys = 0.0
    for site in sites:
        n = sp["visitors_per_day"] * sp["card_share"] * site.share
        if site.daily_cap:
            cap = site.daily_cap * sp["card_share"]
            if n > cap:
                refused[site.name] = round(n - cap)
                n = cap
        for cprov, m in ((p, n * (1 - sp["other_province_share"])), (other, n * sp["other_province_share"])):
            adults, seniors = _split(m, cfg["provinces"][cprov]["senior_share"])
            for cat, k in ((ADULT, adults), (SENIOR, seniors)):
                name = f"{cprov}/tourist/{cat}/{p}/{site.name}"
                tours = _tours(cfg, streams.key(f"tours/{name}"), round(k * sp["group_share"]))
                add(name, "tourist", cprov, cat, k, p, site, tours)
        journeys += n * mean_journeys(pmf, False)
    return journeys


def _tours(cfg: dict, key: int, members: int) -> tuple[int, ...]:
    """Tour-group sizes adding up to ``members`` (drawn from the group's own stream ``key``)."""
    s = HashStream(key)
    size = from_spec(cfg["demand"]["tourism"]["group_size"])
    out = []
    while members > 0:
        k = min(members, max(2, round(size.quantile(s.u()))))
        out.append(k)
        members -= k
    return tuple(out)


def _check_ranges(cfg: dict, counters: dict) -> None:
    """Every travelling holder needs a card of their own in their category's serial range."""
    for (prov, cat), n in sorted(counters.items()):
        pc = cfg["provinces"][prov]
        share = {SENIOR: pc["senior_share"], STUDENT: pc["student_share"]}.get(
            cat, 1.0 - pc["senior_share"] - pc["student_share"])
        if n > int(pc["cards"] * share):
            raise ScenarioError(f"provinces.{prov}.cards: {pc['cards']} cards hold only "
                                f"{int(pc['cards'] * share)} {cat} cards, but {n} {cat} holders "
                                "travel; raise cards (or the category's share)")


class ScenarioDemand:
    """The scenario's own demand: holders living their day, and random loss reports."""

    def start(self, sim: "Simulation") -> None:
        env = sim.env
        self.sim = sim
        self.planner = Planner(sim.cfg, sim.point_table, sim.start_hour * 3600.0)
        #: each province's transit points by mode (kernels.M_*), as the plans name them
        self.transit = [[sim.points[p]["metro"], sim.points[p]["bus"]] for p in PROVINCES]
        groups, sim.reservation_refused = build_groups(sim.cfg, sim.point_table, sim.streams)
        days = int(math.ceil((sim.duration + sim.start_hour * 3600.0) / 86400.0))
        for g in groups:
            key = sim.streams.key(f"holders/{g.name}")
            for day in range(days):
                env.process(self._dispatch(g, key, day))
        for prov in PROVINCES:
            env.process(_loss_reports(sim, prov))

    def _first_clocks(self, g: Group, keys: np.ndarray) -> np.ndarray:
        """The holders' first departures (clock seconds); a tour's members reach the site
        together, one after another."""
        clocks = self.planner.first_clocks(g.htype, keys)
        i = 0
        for size in g.tours:
            clocks[i:i + size] = clocks[i] + TOUR_GAP_S * np.arange(size)
            i += size
        return clocks

    def _dispatch(self, g: Group, key: int, day: int):
        """SimPy process: start the group's holders at their first departures, in time order."""
        env, sim, planner = self.sim.env, self.sim, self.planner
        keys = holder_keys(key, g.n, day)
        clocks = self._first_clocks(g, keys)
        times = day * 86400.0 + clocks - planner.start_s
        order = np.argsort(times, kind="stable")
        order = order[(times[order] >= 0) & (times[order] < sim.duration)]
        site = g.point.index if g.point is not None else 0
        pop = sim.population[g.card_province]
        start = CITY[g.host if g.htype != "visitor" else g.card_province]
        for lo in range(0, len(order), DISPATCH_BLOCK):
            idxs = order[lo:lo + DISPATCH_BLOCK]
            # Performance shortcut: a block of holders starts together, when its first holder
            # departs: each plan is drawn from its holder's own stream and each first step is
            # scheduled at its own time (never before it), so only the events are fewer (one a
            # block, not one a holder); the plans are drawn in one compiled call.
            t = float(times[idxs[0]])
            if t > env.now:
                yield env.timeout(t - env.now)
            plans = planner.block(g.htype, g.card_province, g.host, site, keys[idxs],
                                  clocks[idxs], day)
            # Performance shortcut: the block's cards and what they start with worked out at
            # once (numpy), each card made only when first used (CardPopulation.get)
            serials = pop.serial_for(g.category, idxs + g.first_index)
            made = zip(*(a.tolist() for a in pop.attributes(serials.astype(np.uint64))))
            for serial, m, first, n in zip(serials.tolist(), made, plans.first, plans.count):
                Traveller(self, (pop, serial, m), plans, first, first + n, start).advance()


class Traveller:
    """One holder on their way through the day's plan (see module doc): steps ``j`` to
    ``stop - 1`` of a :class:`cardsim.model.holders.PlanBlock`, the current one ``j``, its
    current leg ``leg``.

    Performance shortcut: a day's taps run through ``_tap`` and ``tapped`` (a million calls at
    scale 1), so they read the simulation from a slot and the clock from ``Calendar._now``
    (SimPy's ``now`` is a property)."""

    __slots__ = ("demand", "sim", "_card", "plan", "j", "stop", "place", "free_at", "leg", "sp")

    def __init__(self, demand: ScenarioDemand, card: tuple, plan: PlanBlock, first: int,
                 stop: int, place: str):
        self.demand, self._card, self.plan = demand, card, plan
        self.sim = demand.sim
        self.j, self.stop = first, stop
        self.leg = 0
        self.place = place
        self.free_at = -math.inf

    @property
    def card(self) -> Card:
        """The holder's card, made at its first use (a holder who never gets to use it leaves
        no card behind: the population counts the cards that transacted)."""
        c = self._card
        if type(c) is tuple:
            pop, serial, made = c
            c = self._card = pop.get(serial, made)
        return c

    def advance(self) -> None:
        """Start the next step when it can start (moves between cities are taken at once)."""
        sim = self.sim
        now = sim.env._now
        p = self.plan
        while self.j < self.stop:
            j = self.j
            kind = p.kind[j]
            city = CITY[PROVINCES[p.prov[j]]]
            if kind == K_MOVE:
                dep = max(p.at[j], self.free_at, now)
                self.free_at = dep + max(sim.places.intercity_s, p.after[j])
                self.place = city
                self.j = j + 1
                continue
            target = city if kind == K_JOURNEY else self._place_of(j)
            travel = sim.places.travel_s(self.place, target) if target != self.place else 0.0
            ready = max(p.at[j], self.free_at + travel, now)
            self.place = target
            if kind == K_JOURNEY:
                self.leg = 0
                self._leg_at(ready + p.access[j])
            else:
                sim.env.call_at(ready, self._online)
            return

    def _place_of(self, j: int) -> str:
        prov = PROVINCES[self.plan.prov[j]]
        if self.plan.kind[j] == K_SCENIC:
            return self.sim.point_table[prov]["scenic_gate"][self.plan.point[j]].place
        return CITY[prov]

    def _leg_at(self, ready: float) -> None:
        """Reach the current leg's terminals: the exit gates after the train (metro), the stop's
        validators when the bus comes (bus), with the leg's wave."""
        p, j, leg = self.plan, self.j, self.leg
        mode = p.mode[leg][j]
        self.sp = sp = self.demand.transit[p.prov[j]][mode]
        t = ready if mode == M_BUS else ready + p.ride[leg][j]
        t = wave_after(t, sp.headway, sp.phases[p.stop[leg][j]]) + sp.spread * p.jitter[leg][j]
        self.sim.env.call_at(t, self._tap)

    def _tap(self, _arg) -> None:
        card = self._card
        if type(card) is tuple:
            card = self.card
        p, j, leg = self.plan, self.j, self.leg
        self.sim.arrive_at(self.sp, p.stop[leg][j], card, p.km[leg][j], self.tapped)

    def tapped(self, approved: bool, now: float) -> None:
        """After a tap (or a balk): the next leg, or the journey's end."""
        p, j, leg = self.plan, self.j, self.leg
        end = now + p.ride[leg][j] if p.mode[leg][j] == M_BUS else now
        if approved and leg + 1 < p.legs[j]:
            self.leg = leg + 1
            self._leg_at(end + p.transfer[j])
            return
        self.free_at = end + p.after[j]
        self.j = j + 1
        self.advance()

    def _online(self, _arg) -> None:
        sim, p, j = self.sim, self.plan, self.j
        prov = PROVINCES[p.prov[j]]
        scenic = p.kind[j] == K_SCENIC
        stype = "scenic_gate" if scenic else "gov_window"
        if sim.turns_away(prov, stype, p.point[j]) or self.card.in_use:
            self.done_online(False, sim.env.now)
            return
        channel = "tourism" if scenic else "government"
        sim.arrive_online(prov, channel, self.card, p.point[j], p.service(j),
                          then=self.done_online)

    def done_online(self, _approved: bool, now: float) -> None:
        self.free_at = now + self.plan.after[self.j]
        self.j += 1
        self.advance()


def _loss_reports(sim: "Simulation", prov: str):
    """SimPy process: cards of ``prov`` that have travelled reported lost at random."""
    env = sim.env
    per_day = sim.cfg["provinces"][prov]["lost_per_day"]
    if per_day <= 0:
        return
    rng = sim.streams.rng(f"loss/{prov}")
    gap = sampler(Exponential(86400.0 / per_day), rng)
    u = uniform_sampler(rng)
    pop = sim.population[prov]
    while True:
        yield env.timeout(gap())
        if pop.order:
            sim.report_lost(pop.get(pop.order[int(u() * len(pop.order))]))

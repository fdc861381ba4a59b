"""Demand: open arrivals whose rate follows an hour-of-day profile, and demand sources.

The rate is piecewise constant per clock hour, so a non-homogeneous Poisson process is generated
exactly: exponential gaps at the hour's rate, restarted at each hour boundary (memorylessness).

A *demand source* is what a :class:`cardsim.model.simulation.Simulation` takes its arrivals and
loss reports from: an object with ``start(sim)`` that starts SimPy processes calling the
simulation's public arrival methods (``arrive_transit``, ``turns_away``, ``arrive_online``,
``balk``, ``report_lost``). :class:`ScenarioDemand` draws them from the scenario's ``[demand]``
(the default); ``cardsim.audit.retime.TraceDemand`` feeds a log's arrivals instead.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import TYPE_CHECKING, Callable, Protocol

import simpy

from cardsim.domain import CHANNELS, PROVINCES
from cardsim.model.card import Card
from cardsim.model.distributions import Exponential, sampler, uniform_sampler
from cardsim.model.nodes import ONLINE_POINT

if TYPE_CHECKING:  # pragma: no cover
    from cardsim.model.simulation import Simulation

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
    return GOVERNMENT_ITEMS[i] if i < len(GOVERNMENT_ITEMS) else f"item_{i + 1:03d}"


def hourly_rates(dcfg: dict, share: float) -> list[float]:
    """Arrivals per second for each clock hour 0..23 for one province's share of a channel."""
    peak = dcfg["peak_per_hour"] * share
    return [peak * w / 3600.0 for w in dcfg["profile"]]


def arrival_stream(env: simpy.Environment, rates: list[float], start_hour: float,
                   unit_exp: Callable[[], float], on_arrival: Callable[[float], None]):
    """SimPy process calling ``on_arrival(now)`` at each arrival.

    ``rates`` are per second for clock hours 0..23; ``unit_exp`` draws Exp(1) variates.
    """
    offset = start_hour * 3600.0
    while True:
        clock = offset + env.now
        seg_end = env.now + (3600.0 - clock % 3600.0)
        rate = rates[int(clock // 3600.0) % 24]
        if rate > 0.0:
            t = env.now
            while True:
                t += unit_exp() / rate
                if t >= seg_end:
                    break
                yield env.timeout(t - env.now)
                on_arrival(env.now)
        gap = seg_end - env.now
        if gap <= 1e-9:  # float rounding put the boundary at or before now: take the next one
            gap = 3600.0 - (offset + env.now) % 3600.0
        yield env.timeout(gap)


class DemandSource(Protocol):
    """Where a simulation's arrivals and loss reports come from."""

    def start(self, sim: "Simulation") -> None:
        """Start the SimPy processes that feed ``sim`` (called once, by ``Simulation.run``)."""


class ScenarioDemand:
    """The scenario's own demand: Poisson arrivals per channel and province following the hourly
    profiles, cards drawn from the active pools, and random loss reports."""

    def start(self, sim: "Simulation") -> None:
        env = sim.env
        demand = sim.cfg["demand"]
        for channel in CHANNELS:
            d = demand[channel]
            for prov in PROVINCES:
                share = d["sichuan_share"] if prov == "sichuan" else 1.0 - d["sichuan_share"]
                rates = hourly_rates(d, share)
                if max(rates) <= 0:
                    continue
                on_arrival = (_transit_arrivals(sim, prov) if channel == "transit"
                              else _online_arrivals(sim, channel, prov))
                unit_exp = sampler(Exponential(1.0), sim.streams.rng(f"arrivals/{channel}/{prov}"))
                env.process(arrival_stream(env, rates, sim.start_hour, unit_exp, on_arrival))
        for prov in PROVINCES:
            env.process(_loss_reports(sim, prov))


def _card_picker(sim: "Simulation", prov: str, cross: float,
                 u: Callable[[], float]) -> Callable[[], Card]:
    home, away = sim.population[prov], sim.population[sim.other[prov]]

    def pick() -> Card:
        # A card is in one place at a time: one held at a terminal for an online transaction
        # is not drawn again until it is released (a few redraws; a tiny active pool may
        # still repeat a card rather than stall).
        for _ in range(8):
            pop = away if u() < cross else home
            card = pop.get(int(u() * pop.active))
            if not card.in_use:
                return card
        return card
    return pick


def _transit_arrivals(sim: "Simulation", prov: str) -> Callable[[float], None]:
    d = sim.cfg["demand"]["transit"]
    u = uniform_sampler(sim.streams.rng(f"choice/transit/{prov}"))
    metro_share, transfer_share = d["metro_share"], d["transfer_share"]
    pick_card = _card_picker(sim, prov, d["cross_province_share"], u)
    arrive = sim.arrive_transit

    def on_arrival(_now: float) -> None:
        # the order of the draws is part of the seed's meaning: mode, card, transfer, point
        mode = "metro" if u() < metro_share else "bus"
        card = pick_card()
        arrive(prov, mode, card, u, transfer=u() < transfer_share)
    return on_arrival


def _online_arrivals(sim: "Simulation", channel: str, prov: str) -> Callable[[float], None]:
    d = sim.cfg["demand"][channel]
    u = uniform_sampler(sim.streams.rng(f"choice/{channel}/{prov}"))
    pick_card = _card_picker(sim, prov, d["cross_province_share"], u)
    stype = ONLINE_POINT[channel]
    items = d.get("items", 0)
    item_cum = list(accumulate(1.0 / (j + 1) for j in range(items)))

    def on_arrival(_now: float) -> None:
        card = pick_card()
        k = sim.pick_point(prov, stype, u())
        if sim.turns_away(prov, stype, k):
            return
        if items:
            j = min(bisect_right(item_cum, u() * item_cum[-1]), items - 1)
            service = government_item(j)
        else:
            service = stype
        sim.arrive_online(prov, channel, card, k, service)
    return on_arrival


def _loss_reports(sim: "Simulation", prov: str):
    """SimPy process: cards of ``prov`` reported lost at random (``lost_per_day``)."""
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
        sim.report_lost(pop.get(int(u() * pop.active)))

"""The queueing core: GateBank (event-free FCFS) against SimPy's Resource, and both against
Erlang C for an M/M/c queue."""

import math

import numpy as np
import pytest
import simpy

from cardsim.model.simulation import Simulation
from cardsim.config.scenario import loads
from cardsim.model.service_point import GateBank, WindowBank


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def arrivals(n, lam, mu, seed=3):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.exponential(1 / lam, n)).tolist(), rng.exponential(1 / mu, n).tolist()


def resource_waits(times, service_times, c):
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=c)
    waits = []

    def customer(t, s):
        yield env.timeout(t)
        with res.request() as r:
            yield r
            waits.append(env.now - t)
            yield env.timeout(s)

    for t, s in zip(times, service_times):
        env.process(customer(t, s))
    env.run()
    return waits


def test_gatebank_matches_simpy_resource_exactly():
    times, service_times = arrivals(5000, 2.0, 1.0)
    bank = GateBank(3)
    ours = [bank.admit(t, s)[0] - t for t, s in zip(times, service_times)]
    # SimPy serves in request order, which here is arrival order: same start times
    assert ours == pytest.approx(resource_waits(times, service_times, 3), abs=1e-9)


def test_gatebank_busy_time_is_clipped_to_the_window():
    bank = GateBank(1, lo=10.0, hi=20.0)
    bank.admit(5.0, 10.0)    # busy 5..15 -> 5 s inside
    bank.admit(18.0, 10.0)   # busy 18..28 -> 2 s inside
    assert bank.busy == pytest.approx(7.0)


@pytest.mark.parametrize("lam,mu,c", [(2.0, 1.0, 3), (0.9, 1.0, 1), (7.0, 0.5, 16)])
def test_gatebank_mean_wait_agrees_with_erlang_c(lam, mu, c):
    times, service_times = arrivals(400_000, lam, mu, seed=11)
    bank = GateBank(c)
    waits = [bank.admit(t, s)[0] - t for t, s in zip(times, service_times)]
    expected = erlang_c_wait(lam, mu, c)
    assert np.mean(waits[20_000:]) == pytest.approx(expected, rel=0.08)


def test_model_metro_point_agrees_with_erlang_c():
    """End to end through the model: one Sichuan station, 3 gates, arrivals at 2/s in all (card
    holders and other payers), exponential service of mean 1 s, 60 simulated hours; the card
    holders' mean wait against Erlang C, and the gates' utilisation, everyone's load."""
    flat = str([1.0] * 96)
    sets = [
        "simulation.duration_hours=60", "simulation.warmup_hours=1",
        # one station, 3 gates: every payer arrives one by one (no waves), 2/s all day; card
        # holders are 5%, so their own rate, which varies over the day as their journeys
        # follow each other, hardly moves the total
        "provinces.sichuan.metro.journeys_per_day=172800", "provinces.sichuan.metro.points=1",
        "provinces.sichuan.metro.headway_s=0", "provinces.sichuan.metro.sizing_utilisation=0",
        "provinces.sichuan.metro.terminals=3", "provinces.sichuan.transit_card_share=0.05",
        'provinces.sichuan.metro.service_time={dist="exponential", mean=1.0}',
        "provinces.sichuan.metro.patience_s=0",
        "demand.transit.transfer_share=0", "demand.transit.bus_bus_share=0",
        *(f"demand.profiles.{p}={flat}" for p in ("commute_out", "commute_back", "other")),
        *(f"provinces.{p}.{k}=0" for p in ("sichuan", "chongqing") for k in (
            "bus.journeys_per_day", "scenic_gate.visitors_per_day", "gov_window.cases_per_day",
            "intercity_trips_per_day", "lost_per_day")),
        "provinces.chongqing.metro.journeys_per_day=0",
    ]
    sim = Simulation(loads("", sets=sets))
    s = sim.run()
    w = s["waits"]["metro"]
    assert w["count"] > 18_000              # the card holders: a sample of everyone's waits
    assert w["mean"] == pytest.approx(erlang_c_wait(2.0, 1.0, 3), rel=0.08)
    # utilisation of the gates: rho = lambda / (c mu)
    assert s["utilisation"]["service_points"]["sichuan.metro"] == pytest.approx(2 / 3, rel=0.03)


def test_windowbank_mm_c_through_simpy():
    lam, mu, c = 1.5, 1.0, 2
    times, service_times = arrivals(100_000, lam, mu, seed=5)
    env = simpy.Environment()
    bank = WindowBank(env, c)
    waits = []

    def customer(t, s):
        yield env.timeout(t)
        req = bank.resource.request()
        yield req
        i = bank.take()
        waits.append(env.now - t)
        start = env.now
        yield env.timeout(s)
        bank.add(start, env.now)
        bank.give_back(i)
        bank.resource.release(req)

    for t, s in zip(times, service_times):
        env.process(customer(t, s))
    env.run()
    assert np.mean(waits[5000:]) == pytest.approx(erlang_c_wait(lam, mu, c), rel=0.1)

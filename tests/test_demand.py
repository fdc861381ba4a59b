import numpy as np
import pytest
import simpy

from cardsim.config.scenario import loads
from cardsim.model.demand import GOVERNMENT_ITEMS, arrival_stream, government_item, hourly_rates
from cardsim.model.distributions import Exponential, sampler
from cardsim.model.simulation import Simulation
from cardsim.records.record import MODEL_COLUMN_NAMES


def run_stream(rates, start_hour, hours):
    env = simpy.Environment()
    seen = []
    env.process(arrival_stream(env, rates, start_hour,
                               sampler(Exponential(1.0), np.random.default_rng(2)), seen.append))
    env.run(until=hours * 3600.0)
    return seen


def test_counts_per_hour_follow_the_profile():
    profile = [0.0] * 24
    profile[8], profile[9] = 1.0, 0.25
    rates = hourly_rates({"peak_per_hour": 20_000.0, "profile": profile}, 0.5)
    seen = run_stream(rates, 0.0, 24)
    per_hour = np.bincount(np.array(seen, dtype=int) // 3600, minlength=24)
    assert per_hour[8] == pytest.approx(10_000, rel=0.03)
    assert per_hour[9] == pytest.approx(2_500, rel=0.06)
    assert per_hour.sum() == per_hour[8] + per_hour[9]
    assert seen == sorted(seen)


def test_start_hour_shifts_the_clock():
    profile = [0.0] * 24
    profile[8] = 1.0
    seen = run_stream(hourly_rates({"peak_per_hour": 3600.0, "profile": profile}, 1.0), 7.0, 3)
    assert seen and all(3600.0 <= t < 7200.0 for t in seen)


def test_government_items():
    assert len(GOVERNMENT_ITEMS) == 24 and GOVERNMENT_ITEMS[0] == "pension_transfer"
    assert government_item(30) == "item_031"


class _Fixed:
    """A demand source: three holders at fixed times, through the public arrival methods."""

    def start(self, sim):
        sim.env.process(self.feed(sim))

    def feed(self, sim):
        card = sim.card("510000000007")
        yield sim.env.timeout(100.0)
        sim.arrive_transit("sichuan", "metro", card, point=0, km=3.0)
        yield sim.env.timeout(50.0)
        sim.arrive_transit("chongqing", "bus", sim.card("500000000001"), point=0)
        yield sim.env.timeout(50.0)
        sim.report_lost(card)
        if not sim.turns_away("sichuan", "scenic_gate", 0):
            sim.arrive_online("sichuan", "tourism", card, 0, "scenic_gate")


def test_a_demand_source_replaces_the_scenario_demand():
    rows = []
    sim = Simulation(loads("[simulation]\nduration_hours = 1\nwarmup_hours = 0\n"), sink=lambda batch, _marks: rows.extend(batch),
                     demand=_Fixed())
    s = sim.run()
    col = {n: i for i, n in enumerate(MODEL_COLUMN_NAMES)}
    got = [(r[col["arrival_time"]], r[col["service"]], r[col["card_id"]], r[col["outcome"]],
            r[col["reason"]]) for r in rows]
    assert got == [(100.0, "metro", "510000000007", "approved", None),
                   (150.0, "bus", "500000000001", "approved", None),
                   (200.0, "scenic_gate", "510000000007", "declined", "card_lost")]
    assert s["transactions"] == 3 and s["blacklist_exposure"]["cards_reported_lost"] == 1
    assert rows[0][col["trip_km"]] == 3.0 and rows[1][col["trip_km"]] is None

import numpy as np
import pytest
import simpy

from cardsim.model.demand import GOVERNMENT_ITEMS, arrival_stream, government_item, hourly_rates
from cardsim.model.distributions import Exponential, sampler


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

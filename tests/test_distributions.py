import numpy as np
import pytest

from cardsim.model.distributions import (Deterministic, Exponential, Gamma, Lognormal, Uniform,
                                   from_spec, sampler)


@pytest.mark.parametrize("dist,mean,sd", [
    (Exponential(2.0), 2.0, 2.0), (Lognormal(2.4, 0.3), 2.4, 0.72), (Gamma(5.0, 0.5), 5.0, 2.5),
    (Uniform(1.0, 3.0), 2.0, (2.0 / 12**0.5)), (Deterministic(4.0), 4.0, 0.0)])
def test_moments(dist, mean, sd):
    x = dist.sample(np.random.default_rng(1), 200_000)
    assert x.mean() == pytest.approx(mean, rel=0.02)
    assert x.std() == pytest.approx(sd, rel=0.03, abs=1e-9)
    assert dist.mean == pytest.approx(mean)


def test_from_spec():
    assert from_spec({"dist": "lognormal", "mean": 2.0, "cv": 0.0}) == Deterministic(2.0)
    assert from_spec({"dist": "exponential", "mean": 1.0}) == Exponential(1.0)
    assert from_spec({"dist": "uniform", "low": 1.0, "high": 2.0}) == Uniform(1.0, 2.0)


def test_sampler_is_independent_of_block_size():
    a = sampler(Exponential(1.0), np.random.default_rng(5), block=7)
    b = sampler(Exponential(1.0), np.random.default_rng(5), block=7)
    assert [a() for _ in range(50)] == [b() for _ in range(50)]


@pytest.mark.parametrize("dist", [Deterministic(2.0), Exponential(3.0), Lognormal(2.7, 0.4),
                                  Gamma(2.0, 0.7), Uniform(1.0, 4.0)])
def test_second_moment_matches_the_draws(dist):
    x = dist.sample(np.random.default_rng(3), 400_000)
    assert dist.second_moment == pytest.approx(float(np.mean(x * x)), rel=0.02)

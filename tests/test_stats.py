import numpy as np
import pytest
from hypothesis import given, strategies as st

from cardsim.model.stats import Histogram


def test_percentiles_within_one_percent():
    x = np.random.default_rng(1).lognormal(0, 1.5, 100_000)
    h = Histogram()
    for v in x.tolist():
        h.add(v)
    for q in (50, 95, 99):
        assert h.percentile(q) == pytest.approx(np.percentile(x, q), rel=0.011)
    assert h.mean == pytest.approx(x.mean(), rel=1e-9)


def test_zeros_counted_apart():
    h = Histogram()
    for v in [0.0] * 90 + [5.0] * 10:
        h.add(v)
    assert h.percentile(50) == 0.0 and h.percentile(95) == pytest.approx(5.0, rel=0.01)
    assert h.summary()["count"] == 100


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=200))
def test_percentiles_monotone_and_bounded(xs):
    h = Histogram()
    for x in xs:
        h.add(x)
    ps = [h.percentile(q) for q in (0, 25, 50, 75, 95, 99, 100)]
    assert ps == sorted(ps) and ps[-1] <= max(xs) * 1.0000001


def test_merge():
    a, b = Histogram(), Histogram()
    for v in (1, 2, 3):
        a.add(v)
    for v in (0, 4):
        b.add(v)
    a.merge(b)
    assert a.n == 5 and a.zeros == 1 and a.max == 4

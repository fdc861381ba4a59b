import numpy as np
import pytest
from hypothesis import given, strategies as st

from cardsim.model.stats import Histogram, bucket_of


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


def _added(values) -> Histogram:
    h = Histogram()
    for v in values:
        h.add(v)
    return h


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_of_arrays_is_adding_each(seed):
    """The array form (bucket_of, Histogram.of) keeps Histogram.add's buckets, zeros and max."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0, 2.0, 20_000) * (rng.random(20_000) < 0.6)   # 40% exact zeros
    x[:5] = [1e-4, 1e-3, 1e-3 * 1.01, 0.0, -1.0]   # below and at the smallest bucket, a negative
    one, many = _added(x.tolist()), Histogram.of(x, bucket_of(x))
    assert (many.n, many.zeros, many.counts, many.max) == (one.n, one.zeros, one.counts, one.max)
    assert many.total == pytest.approx(one.total, rel=1e-12)
    assert many.summary() == one.summary()


@given(st.lists(st.tuples(st.floats(0, 30 * 3600.0), st.floats(0, 9000.0)), max_size=60))
def test_hour_sums_book_as_the_hour_integral(spans):
    """Intervals inside an hour, ending on one, crossing several or past the last hour: booked as
    HourIntegral.add books them."""
    from cardsim.model.stats import HourIntegral, hour_sums
    a = np.array([s for s, _ in spans] + [3600.0, 100.0])
    b = np.array([s + w for s, w in spans] + [7200.0, 100.0])
    ref = HourIntegral(24)
    for x, y in zip(a.tolist(), b.tolist()):
        ref.add(x, y)
    assert hour_sums(a, b, 24) == pytest.approx(ref.sums, abs=1e-6)

"""The columns of a type's customers give the figures per-point histograms would."""

import numpy as np
import pytest

from cardsim.model.point_stats import PointWaits, histogram
from cardsim.model.stats import Histogram, HourIntegral

WARMUP = 3600.0


def _customers(seed=4, n=5000, points=7):
    rng = np.random.default_rng(seed)
    arrival = rng.uniform(0, 10 * 3600.0, n)
    wait = rng.exponential(20.0, n) * (rng.random(n) < 0.5)
    return rng.integers(0, points, n), arrival, arrival + wait


def test_columns_keep_every_customer_per_point_and_hour():
    point, arrival, start = _customers()
    pw = PointWaits(10)
    ref_day: dict = {}
    ref_hour: dict = {}
    ref_queued = HourIntegral(10)
    for k, a, s in zip(point.tolist(), arrival.tolist(), start.tolist()):
        pw.wait(k, a, s)
        if a >= WARMUP:
            ref_day.setdefault(k, Histogram()).add(s - a)
        ref_hour.setdefault((k, int(a // 3600.0)), Histogram()).add(s - a)
        ref_queued.add(a, s)
    c = pw.columns()
    assert len(pw) == len(point) and c.hour.tolist() == (arrival // 3600.0).astype(int).tolist()
    for k, ref in ref_day.items():
        got = histogram([(c, c.select(k) & (c.arrival >= WARMUP))])
        assert got.summary() == ref.summary() and got.counts == ref.counts
    for (k, h), ref in ref_hour.items():
        got = histogram([(c, (c.point == k) & (c.hour == h))])
        assert (got.n, got.zeros, got.counts) == (ref.n, ref.zeros, ref.counts)
    assert pw.queued() == pytest.approx(ref_queued.sums, rel=1e-9)


def test_columns_are_made_again_after_a_new_customer():
    pw = PointWaits(2)
    pw.wait(0, 10.0, 12.0)
    assert len(pw.columns().wait) == 1
    pw.wait(1, 20.0, 20.0)
    c = pw.columns()
    assert c.wait.tolist() == [2.0, 0.0] and c.bucket[1] == -1


def test_balks_per_point_after_warm_up_and_by_hour():
    pw = PointWaits(5)
    for point, now in ((0, 100.0), (0, 4000.0), (2, 7300.0), (None, 8000.0)):
        pw.balk(point, now, WARMUP)
    assert pw.balks() == 3 and pw.balks(0, every=False) == 1 and pw.balks(None, every=False) == 1
    assert pw.hour_balks() == {0: 1, 1: 1, 2: 2}
    assert pw.hour_balks(2, every=False) == {2: 1}


def test_an_empty_type_has_empty_figures():
    pw = PointWaits(3)
    assert histogram([(pw.columns(), slice(None))]).summary()["count"] == 0
    assert pw.queued() == [0.0] * 4

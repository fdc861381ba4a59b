"""Streaming statistics with memory independent of run length.

:class:`Histogram` keeps counts in logarithmic buckets (1% wide), so percentiles of millions of
waits cost a few kilobytes and are accurate to 1%; exact zeros (no wait) are counted apart.
"""

from __future__ import annotations

import math

import numpy as np

_BASE = 1e-3          # smallest non-zero value resolved: 1 ms
_STEP = math.log(1.01)  # bucket width: 1%


class Histogram:
    __slots__ = ("zeros", "counts", "n", "total", "max")

    def __init__(self) -> None:
        self.zeros = 0
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        if x <= 0.0:
            self.zeros += 1
            return
        self.total += x
        if x > self.max:
            self.max = x
        b = int(math.log(x / _BASE) / _STEP) if x > _BASE else 0
        c = self.counts
        c[b] = c.get(b, 0) + 1

    @classmethod
    def of(cls, values: np.ndarray, buckets: np.ndarray) -> "Histogram":
        """The histogram of ``values`` whose buckets are ``buckets`` (:func:`bucket_of`): as
        if each had been added, but in a few array operations."""
        h = cls()
        h.n = len(values)
        counted = buckets >= 0
        pos = values[counted]
        h.zeros = h.n - len(pos)
        if len(pos):
            h.total = float(pos.sum())
            h.max = float(pos.max())
            b, k = np.unique(buckets[counted], return_counts=True)
            h.counts = dict(zip(b.tolist(), k.tolist()))
        return h

    def merge(self, other: "Histogram") -> None:
        self.n += other.n
        self.zeros += other.zeros
        self.total += other.total
        self.max = max(self.max, other.max)
        for b, k in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + k

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100): the upper edge of the bucket holding it, at most max."""
        if self.n == 0:
            return 0.0
        rank = math.ceil(q / 100.0 * self.n)
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                return min(self.max, _BASE * math.exp((b + 1) * _STEP))
        return self.max

    def summary(self) -> dict:
        return {"count": self.n, "mean": round(self.mean, 4), "p50": round(self.percentile(50), 4),
                "p95": round(self.percentile(95), 4), "p99": round(self.percentile(99), 4),
                "max": round(self.max, 4)}


def bucket_of(values: np.ndarray) -> np.ndarray:
    """The :class:`Histogram` bucket of each value (:meth:`Histogram.add`'s rule, for arrays):
    -1 for a value counted as a zero."""
    out = np.full(len(values), -1, dtype=np.int64)
    pos = values > 0.0
    out[pos] = 0
    big = values > _BASE
    out[big] = (np.log(values[big] / _BASE) / _STEP).astype(np.int64)
    return out


class HourIntegral:
    """A quantity integrated over time, kept per clock hour of simulated time (``sums[h]`` covers
    [3600 h, 3600 (h + 1))): busy terminal-seconds, or customer-seconds spent waiting.

    Divided by 3600 and the capacity, an hour's sum is that hour's time-weighted utilisation; the
    waiting sum over 3600 is the hour's time-weighted mean queue length.
    """

    __slots__ = ("sums",)

    def __init__(self, hours: int):
        self.sums = [0.0] * (hours + 1)

    def add(self, a: float, b: float) -> None:
        sums = self.sums
        last = len(sums) - 1
        while a < b:
            h = int(a // 3600.0)
            if h >= last:
                sums[last] += b - a
                return
            e = (h + 1) * 3600.0
            if e > b:
                e = b
            sums[h] += e - a
            a = e

    def total(self, lo: float, hi: float) -> float:
        """Approximate integral over [lo, hi] (whole hours, partial ones pro rata)."""
        return integral(self.sums, lo, hi)


def hour_sums(a: np.ndarray, b: np.ndarray, hours: int) -> list[float]:
    """The intervals [a[i], b[i]) booked into ``hours`` + 1 hourly sums as
    :meth:`HourIntegral.add` books each (the last sum takes the rest): at once for the intervals
    inside one hour, one by one for the few that cross an hour's end."""
    last = hours
    keep = b > a
    a, b = a[keep], b[keep]
    ha = np.minimum((a // 3600.0).astype(np.int64), last)
    hb = np.minimum((b // 3600.0).astype(np.int64), last)
    inside = (ha == hb) | (b == (ha + 1) * 3600.0)
    sums = np.bincount(ha[inside], weights=b[inside] - a[inside], minlength=hours + 1)
    acc = HourIntegral(hours)
    acc.sums = sums.tolist()
    for x, y in zip(a[~inside].tolist(), b[~inside].tolist()):
        acc.add(x, y)
    return acc.sums


def integral(sums: list[float], lo: float, hi: float) -> float:
    """:meth:`HourIntegral.total` of hourly sums (one integral's, or several added up)."""
    out = 0.0
    for h, v in enumerate(sums):
        a, b = max(lo, h * 3600.0), min(hi, (h + 1) * 3600.0)
        if b > a:
            out += v * (b - a) / 3600.0
    return out

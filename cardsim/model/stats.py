"""Streaming statistics with memory independent of run length.

:class:`Histogram` keeps counts in logarithmic buckets (1% wide), so percentiles of millions of
waits cost a few kilobytes and are accurate to 1%; exact zeros (no wait) are counted apart.
"""

from __future__ import annotations

import math

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


def integral(sums: list[float], lo: float, hi: float) -> float:
    """:meth:`HourIntegral.total` of hourly sums (one integral's, or several added up)."""
    out = 0.0
    for h, v in enumerate(sums):
        a, b = max(lo, h * 3600.0), min(hi, (h + 1) * 3600.0)
        if b > a:
            out += v * (b - a) / 3600.0
    return out

"""Random variates as objects (service times, trip lengths, latencies).

Each distribution is a frozen record that knows its mean and second moment, how to draw a block
of variates from a numpy ``Generator``, its quantile function (for draws from a holder's own hash
stream) and its ``params`` (a code and two numbers, for the compiled draws of
:mod:`cardsim.model.kernels`).
:func:`sampler` turns one into a zero-argument callable for hot loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Iterator

import numpy as np

#: Variates drawn per call into numpy. Performance shortcut: one numpy call per block instead of one
#: per variate (a scalar numpy draw costs ~0.5 us; a list item ~0.05 us). The stream is consumed in
#: the same order either way, so results do not depend on the block size for a given stream.
BLOCK = 4096


@dataclass(frozen=True)
class Deterministic:
    value: float

    @property
    def mean(self) -> float:
        return self.value

    @property
    def second_moment(self) -> float:
        return self.value * self.value

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def quantile(self, u: float) -> float:
        return self.value

    @property
    def params(self) -> tuple[int, float, float]:
        return 0, float(self.value), 0.0


@dataclass(frozen=True)
class Exponential:
    mean: float

    @property
    def second_moment(self) -> float:
        return 2.0 * self.mean * self.mean

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)

    def quantile(self, u: float) -> float:
        return -self.mean * math.log1p(-u)

    @property
    def params(self) -> tuple[int, float, float]:
        return 1, float(self.mean), 0.0


@dataclass(frozen=True)
class _MeanCV:
    """A distribution parameterised by its mean and coefficient of variation (sd / mean)."""

    mean: float
    cv: float

    @property
    def second_moment(self) -> float:
        return self.mean * self.mean * (1.0 + self.cv * self.cv)


@dataclass(frozen=True)
class Lognormal(_MeanCV):
    """Parameterised by its mean and coefficient of variation (sd / mean)."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        s2 = math.log1p(self.cv * self.cv)
        return rng.lognormal(math.log(self.mean) - s2 / 2.0, math.sqrt(s2), n)

    def quantile(self, u: float) -> float:
        s2 = math.log1p(self.cv * self.cv)
        return math.exp(math.log(self.mean) - s2 / 2.0 + math.sqrt(s2) * _z(u))

    @property
    def params(self) -> tuple[int, float, float]:
        s2 = math.log1p(self.cv * self.cv)
        return 2, math.log(self.mean) - s2 / 2.0, math.sqrt(s2)


@dataclass(frozen=True)
class Gamma(_MeanCV):
    """Parameterised by its mean and coefficient of variation (sd / mean)."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        k = 1.0 / (self.cv * self.cv)
        return rng.gamma(k, self.mean / k, n)

    def quantile(self, u: float) -> float:
        """Wilson-Hilferty's approximation (within about 1% for shape k >= 1)."""
        k = 1.0 / (self.cv * self.cv)
        c = 1.0 / (9.0 * k)
        return self.mean * max(0.0, 1.0 - c + _z(u) * math.sqrt(c)) ** 3

    @property
    def params(self) -> tuple[int, float, float]:
        k = 1.0 / (self.cv * self.cv)
        return 3, k, self.mean / k


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    @property
    def second_moment(self) -> float:
        return (self.low * self.low + self.low * self.high + self.high * self.high) / 3.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)

    def quantile(self, u: float) -> float:
        return self.low + (self.high - self.low) * u

    @property
    def params(self) -> tuple[int, float, float]:
        return 4, float(self.low), float(self.high)


_Z = NormalDist()


def _z(u: float) -> float:
    """The standard normal quantile of ``u``, kept inside (0, 1)."""
    return _Z.inv_cdf(min(max(u, 1e-12), 1.0 - 1e-12))


Distribution = Deterministic | Exponential | Lognormal | Gamma | Uniform


def from_spec(spec: dict) -> Distribution:
    """Build from a validated scenario table, e.g. ``{"dist": "lognormal", "mean": 2, "cv": .3}``."""
    kind = spec["dist"]
    if kind == "deterministic" or (kind in ("lognormal", "gamma") and spec["cv"] == 0) or (
            kind != "uniform" and spec.get("mean", 1.0) == 0):
        return Deterministic(spec.get("mean", 0.0))
    if kind == "exponential":
        return Exponential(spec["mean"])
    if kind == "lognormal":
        return Lognormal(spec["mean"], spec["cv"])
    if kind == "gamma":
        return Gamma(spec["mean"], spec["cv"])
    if kind == "uniform":
        return Uniform(spec["low"], spec["high"])
    raise ValueError(f"unknown distribution {kind!r}")  # pragma: no cover - schema validates


def _blocks(dist: Distribution, rng: np.random.Generator, n: int, first: int) -> Iterator[float]:
    # blocks grow from ``first`` to ``n``: a stream used a few times (a quiet bus stop's service
    # times) draws a few variates, a busy one soon draws ``n`` at a time
    k = first
    while True:
        yield from dist.sample(rng, k).tolist()
        k = k * 4 if k * 4 < n else n


def sampler(dist: Distribution, rng: np.random.Generator, block: int = BLOCK,
            first: int = BLOCK) -> Callable[[], float]:
    """A zero-argument callable returning the next variate of ``dist`` from ``rng``, drawn in
    blocks of ``block`` (the first of ``first``, growing fourfold)."""
    return _blocks(dist, rng, block, min(first, block)).__next__


def uniform_sampler(rng: np.random.Generator, block: int = BLOCK) -> Callable[[], float]:
    """Next U[0, 1) variate; the workhorse for choices and probabilities."""
    return _blocks(Uniform(0.0, 1.0), rng, block, block).__next__

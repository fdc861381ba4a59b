"""Random draws from counter-based streams (compiled): a stream is a 64-bit key, its n-th uniform
SplitMix64 of (key, n), as in :class:`cardsim.model.holders.HashStream`, so a kernel keeps no
generator object; and the distributions of :mod:`cardsim.model.distributions` drawn from them
(codes of ``params``: 0 deterministic, 1 exponential, 2 lognormal, 3 gamma, 4 uniform)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# numba keeps uint64 arithmetic in uint64 (wrapping) only when every operand is uint64
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_WAVE = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_U53 = 1.0 / 9007199254740992.0
_TWO_PI = 2.0 * math.pi


@njit(cache=True)
def mix(x):  # pragma: no cover - compiled
    """SplitMix64 of a uint64 (:func:`cardsim.model.streams.mix64`, bit for bit)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@njit(cache=True)
def uniform(key, n):  # pragma: no cover - compiled
    """The ``n``-th U[0, 1) of stream ``key`` (uint64 both)."""
    return float(mix(key + n * _GOLDEN) >> _S11) * _U53


@njit(cache=True)
def wave_key(key, k):  # pragma: no cover - compiled
    """The key of wave (or arrival) ``k`` of stream ``key``: each wave's draws stand alone."""
    return mix(key ^ (np.uint64(k) * _WAVE + _WAVE))


@njit(cache=True)
def normal(key, n):  # pragma: no cover - compiled
    """A standard normal from draws n and n + 1 (Box-Muller)."""
    u1 = uniform(key, n)
    u2 = uniform(key, n + np.uint64(1))
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)


@njit(cache=True)
def variate(kind, a, b, key, n):  # pragma: no cover - compiled
    """A draw of distribution (kind, a, b) from stream ``key`` starting at draw ``n``; returns
    (value, the next unused draw)."""
    one = np.uint64(1)
    if kind == 0:
        return a, n
    if kind == 1:
        return -a * math.log(1.0 - uniform(key, n)), n + one
    if kind == 2:
        return math.exp(a + b * normal(key, n)), n + np.uint64(2)
    if kind == 4:
        return a + (b - a) * uniform(key, n), n + one
    # gamma(shape a, scale b): Marsaglia and Tsang; shape < 1 boosted by U^(1/a)
    shape = a if a >= 1.0 else a + 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z = normal(key, n)
        v = (1.0 + c * z) ** 3
        u = uniform(key, n + np.uint64(2))
        n = n + np.uint64(3)
        if v > 0.0 and math.log(1.0 - u) < 0.5 * z * z + d - d * v + d * math.log(v):
            x = d * v * b
            if a < 1.0:
                x *= (1.0 - uniform(key, n)) ** (1.0 / a)
                n = n + one
            return x, n


@njit(cache=True)
def poisson(lam, key, n):  # pragma: no cover - compiled
    """A Poisson(``lam``) count from stream ``key`` starting at draw ``n``; returns (count, the
    next unused draw). Inversion below 10, else Hoermann's transformed rejection (PTRS, as numpy)."""
    one = np.uint64(1)
    if lam <= 0.0:
        return 0, n
    if lam < 10.0:
        u = uniform(key, n)
        p = math.exp(-lam)
        f = p
        k = 0
        while u > f and k < 1000:
            k += 1
            p *= lam / k
            f += p
        return k, n + one
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    bb = 0.931 + 2.53 * slam
    aa = -0.059 + 0.02483 * bb
    invalpha = 1.1239 + 1.1328 / (bb - 3.4)
    vr = 0.9277 - 3.6224 / (bb - 2.0)
    while True:
        u = uniform(key, n) - 0.5
        v = uniform(key, n + one)
        n = n + np.uint64(2)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * aa / us + bb) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return int(k), n
        if k < 0 or (us < 0.013 and v > us):
            continue
        if (math.log(v) + math.log(invalpha) - math.log(aa / (us * us) + bb)
                <= -lam + k * loglam - math.lgamma(k + 1.0)):
            return int(k), n

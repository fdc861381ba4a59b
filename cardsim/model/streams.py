"""Seeded random streams: one independent numpy generator per named purpose.

Streams are keyed by name (e.g. ``"arrivals/transit/sichuan"``), not by creation order, so adding a
stream never shifts the numbers another stream draws. All randomness in a run comes from here.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


class Streams:
    """Factory of generators derived from one ``SeedSequence`` (a base seed, or a spawned child)."""

    def __init__(self, seed: int | np.random.SeedSequence):
        self.seedseq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)

    def rng(self, name: str) -> np.random.Generator:
        ss = np.random.SeedSequence(self.seedseq.entropy,
                                    spawn_key=tuple(self.seedseq.spawn_key) + (_name_key(name),))
        return np.random.Generator(np.random.PCG64(ss))

    def key(self, name: str) -> int:
        """A 64-bit integer derived from the seed and ``name``, for hash-based per-item draws."""
        return _state64(self.seedseq, name)


def derive(key: int, name: str) -> int:
    """The key of ``name`` under stream key ``key`` (a point's stream under its type's): like
    :meth:`Streams.key`, for thousands of names (0.5 us each instead of 6)."""
    h = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")
    return mix64(key ^ h)


def _state64(ss: np.random.SeedSequence, name: str) -> int:
    words = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (_name_key(name),)
                                   ).generate_state(2, np.uint32)
    return (int(words[0]) << 32) | int(words[1])


MASK64 = (1 << 64) - 1


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a fast, well-mixed 64-bit hash of an integer.

    Used to draw per-card attributes from (stream key, card index) so that a card created lazily at
    any moment of a run gets the same attributes whatever order cards are first seen in.
    """
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)

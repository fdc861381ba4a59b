"""The blacklist: when a loss report reaches the terminals of a province.

Used by the merchant's offline rule, the issuer's stand-in policy, verify's revocation check and
replay; the timing rule lives here once.
"""

from __future__ import annotations

import math

from cardsim.model.card import Card


class Blacklist:
    """When a loss report reaches the terminals of a province.

    The card's home issuer needs ``delay`` (its province's blacklist_push_delay_s) to publish a
    report; terminals of a province receive the published list at multiples of that province's
    push interval. Until then a lost card keeps being approved offline: blacklist exposure.
    """

    def __init__(self, delays: dict[str, float], intervals: dict[str, float]):
        self.delays = delays
        self.intervals = intervals

    def reaches(self, lost_at: float, home: str, terminal_province: str) -> float:
        ready = lost_at + self.delays[home]
        step = self.intervals[terminal_province]
        return math.ceil(ready / step) * step

    def listed(self, card: Card, terminal_province: str, now: float) -> bool:
        """Is ``card`` on the list terminals of ``terminal_province`` hold at ``now``?"""
        lost = card.lost_at
        return lost is not None and now >= self.reaches(lost, card.province, terminal_province)

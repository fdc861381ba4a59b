"""Fare rules: what a tap costs before the merchant decides whether the card can pay.

Assumptions (see docs/scenarios.md): metro fares flat or by distance band; a bus<->rail tap within
the transfer window is discounted (a leg up to ``transfer_discount_fen`` is free: Chongqing's
one-hour transfer rule); students get a percentage off; seniors in provinces that grant it ride
free against a yearly quota (Chongqing: 1,200 rides, extendable by 300).
"""

from __future__ import annotations

from bisect import bisect_left

from cardsim.model.card import SENIOR, STUDENT, Card

NONE, STUDENT_DISCOUNT, SENIOR_QUOTA, TRANSFER, CARDHOLDER, SENIOR_FREE = (
    None, "student", "senior_quota", "transfer", "cardholder", "senior_free")


def _pct_off(fen: int, pct: float) -> int:
    """``fen`` less ``pct`` percent, rounded down to whole fen (integer arithmetic)."""
    return fen * round((100.0 - pct) * 100) // 10000


class TransitFares:
    """Transit fare rules of one province."""

    def __init__(self, pcfg: dict):
        m = pcfg["metro"]
        self.banded = m["fare_rule"] == "banded"
        self.flat_metro = m["flat_fare_fen"]
        self.band_km = m["band_km"]
        self.band_fare = m["band_fare_fen"]
        self.bus_fare = pcfg["bus"]["flat_fare_fen"]
        f = pcfg["fares"]
        self.window = f["transfer_window_s"]
        self.transfer_off = f["transfer_discount_fen"]
        self.student_pct = f["student_discount_pct"]
        self.senior_free = f["senior_free_rides"]

    def metro_base(self, km: float) -> int:
        if not self.banded:
            return self.flat_metro
        return self.band_fare[bisect_left(self.band_km, km)]

    def price(self, card: Card, mode: str, base: int, now: float) -> tuple[int, str | None]:
        """(amount in fen, concession applied) for a tap on ``mode`` at ``now``."""
        if card.category == SENIOR and self.senior_free and card.quota_left > 0:
            return 0, SENIOR_QUOTA
        fare, conc = base, NONE
        if card.category == STUDENT and self.student_pct:
            fare, conc = _pct_off(fare, self.student_pct), STUDENT_DISCOUNT
        if (card.last_transit_mode and card.last_transit_mode != mode
                and now - card.last_transit_t <= self.window):
            fare, conc = max(0, fare - self.transfer_off), TRANSFER
        return fare, conc


def ticket_price(card: Card, gcfg: dict) -> tuple[int, str | None]:
    """Scenic-site ticket for a card holder: seniors free where granted, else the card discount."""
    if card.category == SENIOR and gcfg["senior_free"]:
        return 0, SENIOR_FREE
    pct = gcfg["cardholder_discount_pct"]
    if pct:
        return _pct_off(gcfg["ticket_fen"], pct), CARDHOLDER
    return gcfg["ticket_fen"], NONE

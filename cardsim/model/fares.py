"""Fare rules: what a tap costs before the merchant decides whether the card can pay.

Each city has its own rules, read from its province's scenario section (sources in
``docs/sources.md``):

- metro fares by distance band to the end of the network, with an optional cap (Chongqing charges
  at most 7 yuan); buses a flat fare; the card's stored value pays ``card_discount_pct`` less;
- a transfer discount where the city grants one (Chongqing: bus<->rail and bus->bus within an
  hour of the previous paid tap, counted from the rail exit or the bus boarding; one transfer per
  paid tap, so transfers alternate and never chain; the discount is at most 2 yuan and at most what
  the first leg paid; concession fares do not get it);
- seniors ride free where the city grants it, to the cards it covers (Chongqing: its own hukou and
  residence-permit holders, i.e. cards it issued), against a quota per calendar year that resets
  on 1 January and can be extended (Chongqing: 1,200 rides, plus 300 per granted extension);
  Chengdu's seniors ride free off-peak only;
- students a percentage off; scenic tickets a card-holder discount, seniors free.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left

from cardsim.model.card import SENIOR, STUDENT, Card

NONE, STUDENT_DISCOUNT, SENIOR_QUOTA, TRANSFER, CARDHOLDER, SENIOR_FREE, SENIOR_DISCOUNT = (
    None, "student", "senior_quota", "transfer", "cardholder", "senior_free", "senior")


def _kept(pct: float) -> int:
    """What a discount of ``pct`` percent keeps, in hundredths of a percent."""
    return round((100.0 - pct) * 100)


def _pct_off(fen: int, pct: float) -> int:
    """``fen`` less ``pct`` percent, rounded down to whole fen (integer arithmetic)."""
    return fen * _kept(pct) // 10000


class Calendar:
    """Calendar year and clock second of a simulated time, from the scenario's start date."""

    def __init__(self, start_date: str, start_hour: float):
        d0 = dt.date.fromisoformat(start_date)
        self.start_year = d0.year
        self.offset = start_hour * 3600.0
        # simulated seconds at which each of the next 400 years begins (00:00 CST, 1 January)
        self.year_starts = [(dt.date(d0.year + k, 1, 1) - d0).days * 86400.0 - self.offset
                            for k in range(1, 401)]

    def year_of(self, t: float) -> int:
        return self.start_year + bisect_left(self.year_starts, t + 1e-9)

    def clock(self, t: float) -> float:
        """Seconds since midnight at simulated time ``t``."""
        return (self.offset + t) % 86400.0


class TransitFares:
    """Transit fare rules of one province's main city."""

    def __init__(self, pcfg: dict, province: str, calendar: Calendar):
        m, f = pcfg["metro"], pcfg["fares"]
        self.province = province
        self.calendar = calendar
        self.banded = m["fare_rule"] == "banded"
        self.flat_metro = m["flat_fare_fen"]
        self.band_km = m["band_km"]
        self.band_fare = m["band_fare_fen"]
        self.cap = m["fare_cap_fen"]
        self.bus_fare = pcfg["bus"]["flat_fare_fen"]
        self.window = f["transfer_window_s"]
        self.transfer_off = f["transfer_discount_fen"]
        self.bus_bus = f["transfer_bus_bus"]
        self.transfer_concessions = f["transfer_concessions"]
        self.card_pct = f["card_discount_pct"]
        self.card_kept = _kept(self.card_pct)    # worked out once: every paying tap uses it
        self.student_pct = f["student_discount_pct"]
        self.senior_free = f["senior_free_rides"]
        self.senior_home_only = f["senior_eligibility"] == "home_cards"
        self.senior_pct = f["senior_discount_pct"]
        self.offpeak_only = f["senior_offpeak_only"]
        self.peaks = [(a * 3600.0, b * 3600.0) for a, b in f["peak_windows"]]
        self.quota_year = f["senior_quota_per_year"]
        self.extension = f["senior_quota_extension"]
        self.extensions = f["senior_quota_extensions"]
        #: the transfer state a tap leaves on the card: "province/mode"
        self.mode_key = {mode: f"{province}/{mode}" for mode in ("metro", "bus")}

    def metro_base(self, km: float) -> int:
        if not self.banded:
            return self.flat_metro
        fare = self.band_fare[bisect_left(self.band_km, km)]
        return fare if not self.cap or fare < self.cap else self.cap

    # --- seniors --------------------------------------------------------------------------------

    def quota(self, card: Card, now: float) -> tuple[int, int, int]:
        """(rides left, extensions left, year) of a senior's quota at ``now``: a new calendar year
        starts a fresh quota and a fresh allowance of extensions."""
        year = self.calendar.year_of(now)
        if year != (card.quota_year or self.calendar.start_year):
            return self.quota_year, self.extensions, year
        return card.quota_left, card.ext_left, year

    def _senior_rides_free(self, card: Card, now: float) -> bool:
        if not self.senior_free or (self.senior_home_only and card.province != self.province):
            return False
        if self.offpeak_only:
            c = self.calendar.clock(now)
            if any(a <= c < b for a, b in self.peaks):
                return False
        left, ext, _y = self.quota(card, now)
        return left > 0 or (ext > 0 and self.extension > 0)

    def take_free_ride(self, card: Card, now: float) -> None:
        """A senior's free ride is taken from the quota (extended first when it is used up)."""
        left, ext, year = self.quota(card, now)
        if left <= 0:
            left, ext = left + self.extension, ext - 1
        card.quota_left, card.ext_left, card.quota_year = left - 1, ext, year

    # --- the price of a tap -----------------------------------------------------------------

    def price(self, card: Card, mode: str, base: int, now: float) -> tuple[int, str | None]:
        """(amount in fen, concession applied) for a tap on ``mode`` at ``now``."""
        cat = card.category
        if cat == SENIOR and self._senior_rides_free(card, now):
            return 0, SENIOR_QUOTA
        if cat == STUDENT and self.student_pct:
            fare, conc = _pct_off(base, self.student_pct), STUDENT_DISCOUNT
        elif cat == SENIOR and self.senior_pct and not (
                self.senior_home_only and card.province != self.province):
            fare, conc = _pct_off(base, self.senior_pct), SENIOR_DISCOUNT
        else:
            fare, conc = (base * self.card_kept // 10000 if self.card_pct else base), NONE
        if self.window and (conc is NONE or self.transfer_concessions):
            off = self._transfer_discount(card, mode, fare, now)
            if off:
                return fare - off, TRANSFER
        return fare, conc

    def _transfer_discount(self, card: Card, mode: str, fare: int, now: float) -> int:
        """The discount a transfer tap gets (0 when the tap is no transfer)."""
        last = card.last_transit_mode
        if (card.last_transfer or now - card.last_transit_t > self.window
                or not last.startswith(self.province)):
            return 0
        key = self.mode_key[mode]
        if last == key and not (mode == "bus" and self.bus_bus):
            return 0
        off = self.transfer_off if self.transfer_off < card.last_paid else card.last_paid
        return off if off < fare else fare

    def apply(self, card: Card, amount: int, conc: str | None, now: float, mode: str) -> None:
        """What an approved tap does to the card's fare state: the senior quota, and the transfer
        state (this tap's time, city and mode, what it paid, whether it was a transfer)."""
        if conc == SENIOR_QUOTA:
            self.take_free_ride(card, now)
        card.last_transit_t = now
        card.last_transit_mode = self.mode_key[mode]
        card.last_paid = amount
        card.last_transfer = conc == TRANSFER


def ticket_price(card: Card, gcfg: dict, ticket_fen: int | None = None) -> tuple[int, str | None]:
    """Scenic-site ticket for a card holder: seniors free where granted, else the card discount.
    ``ticket_fen`` is the site's own full price (default: the province's ``ticket_fen``)."""
    if card.category == SENIOR and gcfg["senior_free"]:
        return 0, SENIOR_FREE
    full = gcfg["ticket_fen"] if ticket_fen is None else ticket_fen
    pct = gcfg["cardholder_discount_pct"]
    if pct:
        return _pct_off(full, pct), CARDHOLDER
    return full, NONE

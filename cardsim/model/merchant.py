"""Merchant/acquirer nodes: they run the terminals of one service point type in one province,
price what a card holder buys, decide offline taps, upload records in batches and send online
transactions to the card's issuer (directly, or through the hub across provinces).

Each step lives here once and is called by the simulation and by replay alike:

- :meth:`Merchant.base_fare` (transit): which fare base applies to a tap;
- :meth:`Merchant.tap`: price the tap, apply the offline rule (:meth:`Merchant.decide_offline`)
  and, when approved, what the tap does to the card (:meth:`Merchant.charge`: debit, senior
  quota, transfer state);
- :meth:`Merchant.price_online`: what a scenic ticket or a government item costs the card holder;
- :meth:`Merchant.authorise`: the SimPy timing of routing an online request; the decision itself
  is :meth:`cardsim.model.issuer.Issuer.respond`.

The blacklist timing the offline rule relies on is :class:`cardsim.model.blacklist.Blacklist`.
"""

from __future__ import annotations

import math
import simpy

from cardsim.model.blacklist import Blacklist
from cardsim.model.card import Card
from cardsim.model.fares import Calendar, TransitFares, ticket_price
from cardsim.model.hub import Hub
from cardsim.model.issuer import Issuer
from cardsim.config.points import named_points
from cardsim.records.record import ISSUER, merchant_id_for

BLACKLISTED, INSUFFICIENT = "blacklisted", "insufficient_balance"


class Merchant:
    """One operator (e.g. ``sichuan-metro``): its prices, offline rule, uploads and routing.

    ``pcfg`` is the province's scenario section; the merchant reads its own service point type's
    part (and, for transit, the province's fare rules).
    """

    def __init__(self, province: str, service_type: str, pcfg: dict, blacklist: Blacklist,
                 calendar: Calendar):
        self.merchant_id = merchant_id_for(province, service_type)
        self.province = province
        self.service_type = service_type
        self.upload_interval = pcfg[service_type]["upload_interval_s"]
        self.blacklist = blacklist
        self.transit = service_type in ("metro", "bus")
        self.fares = TransitFares(pcfg, province, calendar) if self.transit else None
        self.prices = sp = pcfg[service_type]
        #: scenic sites: each named site's own full ticket (None: the province's ticket_fen)
        self.tickets = [f.get("ticket_fen") for _name, f in named_points(sp)]

    def upload_time(self, now: float) -> float:
        """When a record made at ``now`` reaches the back office (the next batch upload)."""
        step = self.upload_interval
        if step <= 0:
            return now
        return math.floor(now / step) * step + step

    # --- transit (offline) ----------------------------------------------------------------------

    def base_fare(self, km) -> int:
        """The fare before concessions of a tap on this merchant's mode.

        Metro: by the trip's distance band, or the flat fare when the trip length is unknown (a
        log row without a usable ``trip_km``); bus: the flat fare."""
        fares = self.fares
        if self.service_type != "metro":
            return fares.bus_fare
        return fares.metro_base(km) if isinstance(km, float) else fares.flat_metro

    def decide_offline(self, card: Card, amount: int, now: float) -> str | None:
        """The offline rule: the decline reason, or None to approve.

        A terminal checks the blacklist it holds, then the stored value against the fare.
        """
        if card.lost_at is not None and self.blacklist.listed(card, self.province, now):
            return BLACKLISTED
        if amount > card.balance_fen:
            return INSUFFICIENT
        return None

    def tap(self, card: Card, base: int, now: float) -> tuple[int, str | None, str | None]:
        """A card presented at a gate or validator at ``now``: (amount, concession, reason).

        Prices the tap from ``base`` (:meth:`base_fare`), applies the offline rule and, when it
        approves (``reason`` None), the tap's effect on the card: the stored value is debited, a
        senior's free ride is taken from the quota and the transfer state moves to this tap.
        The card's counter is the caller's: the card raises it (simulation) or presents it (replay).
        """
        amount, conc = self.fares.price(card, self.service_type, base, now)
        reason = self.decide_offline(card, amount, now)
        if reason is None:
            self.charge(card, amount, conc, now)
        return amount, conc, reason

    def charge(self, card: Card, amount: int, conc: str | None, now: float) -> None:
        """What an approved tap at ``now`` does to the card: the stored value is debited, and the
        fare state (senior quota, transfer state) moves on (:meth:`TransitFares.apply`)."""
        card.balance_fen -= amount
        self.fares.apply(card, amount, conc, now, self.service_type)

    # --- scenic gates and government windows (online) -------------------------------------------

    def price_online(self, card: Card, point: int = 0) -> tuple[int, str | None]:
        """(amount in fen, concession) of a scenic ticket at site ``point`` or of a government
        item for this card."""
        if self.service_type == "scenic_gate":
            tickets = self.tickets
            return ticket_price(card, self.prices, tickets[point] if point < len(tickets) else None)
        return self.prices["fee_fen"], None

    def authorise(self, env: simpy.Environment, card: Card, atc: int, amount: int, channel: str,
                  issuers: dict[str, Issuer], hub: Hub):
        """SimPy process: route an online authorisation; returns (reason or None, authoriser,
        decided_at).

        Same province: acquirer -> issuer. Other province: acquirer -> hub -> home issuer. An
        issuer in an outage does not decide, and the node in front of it (acquirer, or hub)
        applies the issuer's stand-in policy at once (the outage is assumed to be detected without
        a timeout), whether the outage had begun when the request was sent or began while it was
        being processed: :meth:`Issuer.respond` at the moment of decision.
        """
        issuer = issuers[card.province]
        cross = card.province != self.province
        back = hub.latency if cross else 0.0
        if cross:
            yield from hub.route(env)
        if not issuer.down(env.now):
            yield env.timeout(issuer.latency)
            yield from issuer.serve(env)
        decided = env.now
        reason, authoriser = issuer.respond(card, atc, amount, channel, decided, self.blacklist,
                                            self.province)
        if authoriser == ISSUER:
            yield env.timeout(issuer.latency + back)
        elif back:
            yield env.timeout(back)
        return reason, authoriser, decided

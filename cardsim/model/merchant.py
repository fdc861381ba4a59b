"""Merchant/acquirer nodes: they run terminals, decide offline taps, upload records in batches and
send online transactions to the card's issuer (directly, or through the hub across provinces).

The offline decision rule (what a gate or validator checks without going online) is
:meth:`Merchant.decide_offline`; the blacklist timing it relies on is :class:`cardsim.model.blacklist.Blacklist`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cardsim.model.blacklist import Blacklist
from cardsim.model.card import Card
from cardsim.records.record import ISSUER, STANDIN

if TYPE_CHECKING:  # pragma: no cover
    from cardsim.model.hub import Hub
    from cardsim.model.issuer import Issuer

BLACKLISTED, INSUFFICIENT = "blacklisted", "insufficient_balance"


class Merchant:
    """One operator (e.g. ``sichuan-metro``): its terminals, uploads and routing."""

    def __init__(self, merchant_id: str, province: str, service: str, upload_interval_s: float,
                 blacklist: Blacklist):
        self.merchant_id = merchant_id
        self.province = province
        self.service = service
        self.upload_interval = upload_interval_s
        self.blacklist = blacklist

    def upload_time(self, now: float) -> float:
        """When a record made at ``now`` reaches the back office (the next batch upload)."""
        step = self.upload_interval
        if step <= 0:
            return now
        return math.floor(now / step) * step + step

    def decide_offline(self, card: Card, amount: int, now: float) -> str | None:
        """The offline rule: the decline reason, or None to approve.

        A terminal checks the blacklist it holds, then the stored value against the fare.
        """
        if card.lost_at is not None and self.blacklist.listed(card, self.province, now):
            return BLACKLISTED
        if amount > card.balance_fen:
            return INSUFFICIENT
        return None

    def authorise(self, env, card: Card, atc: int, amount: int, channel: str,
                  issuers: dict[str, "Issuer"], hub: "Hub"):
        """SimPy process: route an online authorisation; returns (reason or None, authoriser,
        decided_at).

        Same province: acquirer -> issuer. Other province: acquirer -> hub -> home issuer. The
        rule at the moment of decision: an issuer in an outage does not decide, and the node in
        front of it (acquirer, or hub) applies the issuer's stand-in policy at once (the outage
        is assumed to be detected without a timeout), whether the outage had begun when the
        request was sent or began while it was being processed.
        """
        issuer = issuers[card.province]
        cross = card.province != self.province
        back = hub.latency if cross else 0.0
        if cross:
            yield from hub.route(env)
        if not issuer.down(env.now):
            yield env.timeout(issuer.latency)
            reason = yield from issuer.authorise(env, card, atc, amount)
            if reason is not issuer.DOWN:
                decided = env.now
                yield env.timeout(issuer.latency + back)
                return reason, ISSUER, decided
        decided = env.now
        reason = issuer.stand_in(card, amount, channel, decided, self.blacklist, self.province)
        if back:
            yield env.timeout(back)
        return reason, STANDIN, decided

"""Issuer nodes, one per province: online authorisation with finite capacity, and the issuer's
decision rule (:meth:`Issuer.decide`) and stand-in policy (:meth:`Issuer.stand_in`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from cardsim.model.card import Card
from cardsim.model.distributions import from_spec, sampler
from cardsim.model.service_point import _Busy

if TYPE_CHECKING:  # pragma: no cover
    from cardsim.model.blacklist import Blacklist

CARD_LOST, ATC_REPLAY, ATC_JUMP = "card_lost", "atc_replay", "atc_jump"
ISSUER_UNAVAILABLE, STANDIN_LIMIT, BLACKLISTED = "issuer_unavailable", "standin_limit", "blacklisted"


class Issuer(_Busy):
    """The issuer of one province's cards."""

    def __init__(self, env: simpy.Environment, province: str, icfg: dict, rng, lo: float = 0.0,
                 hi: float = float("inf")):
        super().__init__(lo, hi)
        self.province = province
        self.issuer_id = f"issuer-{province}"
        self.servers = icfg["servers"]
        self.resource = simpy.Resource(env, capacity=self.servers)
        self.service = sampler(from_spec(icfg["service_time"]), rng)
        self.latency = icfg["latency_s"]
        self.timeout = icfg["timeout_s"]
        self.outages = [(a * 3600.0, b * 3600.0) for a, b in icfg["outages"]]
        self.standin = icfg["standin"]
        self.standin_limit = icfg["standin_limit_fen"]
        self.max_jump = icfg["atc_max_jump"]
        self.last_atc: dict[str, int] = {}   # card_id -> last ATC seen online
        self.cleared_atc: dict[str, int] = {}  # card_id -> highest ATC seen in clearing
        self.requests = 0

    def down(self, t: float) -> bool:
        for a, b in self.outages:
            if a <= t < b:
                return True
        return False

    def decide(self, card: Card, atc: int, amount: int, now: float) -> str | None:
        """The issuer's decision rule: the decline reason, or None to approve.

        Declines a card reported lost (the issuer knows at once), a counter that does not rise
        above the last one seen online (a clone or a replayed transaction) and a counter that
        jumps too far. Online payments debit the holder's account, which is assumed funded.
        """
        if card.lost_at is not None and now >= card.lost_at:
            return CARD_LOST
        last = self.last_atc.get(card.card_id)
        if last is not None:
            if atc <= last:
                return ATC_REPLAY
            if atc - last > self.max_jump:
                self.last_atc[card.card_id] = atc
                return ATC_JUMP
        self.last_atc[card.card_id] = atc
        return None

    def clear_offline(self, card_id: str, atc: int) -> str | None:
        """The back office's rule when it clears an uploaded record (offline records, and the
        online ones it also sees): a counter not above the highest seen for the card is a clone
        or a replayed record, and is rejected (``atc_replay``). Used by replay; the simulation's
        honest cards never trigger it."""
        seen = self.cleared_atc.get(card_id)
        if seen is not None and atc <= seen:
            return ATC_REPLAY
        self.cleared_atc[card_id] = atc
        return None

    def stand_in(self, card: Card, amount: int, channel: str, now: float, blacklist: "Blacklist",
                 terminal_province: str) -> str | None:
        """The stand-in policy applied for this issuer while it is unreachable.

        Government items need the home issuer: always declined. Otherwise 'decline' declines all;
        'limit' approves amounts up to the limit for cards not on the blacklist the acquirer holds.
        """
        if channel == "government" or self.standin == "decline":
            return ISSUER_UNAVAILABLE
        if amount > self.standin_limit:
            return STANDIN_LIMIT
        if blacklist.listed(card, terminal_province, now):
            return BLACKLISTED
        return None

    #: returned by :meth:`authorise` when the issuer went down before it could decide
    DOWN = "down"

    def authorise(self, env: simpy.Environment, card: Card, atc: int, amount: int):
        """SimPy process: wait for a server, process, decide. Returns the decline reason, None to
        approve, or :attr:`DOWN` when an outage began before the decision."""
        self.requests += 1
        with self.resource.request() as req:
            yield req
            start = env.now
            yield env.timeout(self.service())
            self.add(start, env.now)
            if self.down(env.now):
                return self.DOWN
            return self.decide(card, atc, amount, env.now)

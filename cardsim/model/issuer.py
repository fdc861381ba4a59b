"""Issuer nodes, one per province: online authorisation with finite capacity (:meth:`Issuer.serve`),
the issuer's decision rule (:meth:`Issuer.decide`), its stand-in policy (:meth:`Issuer.stand_in`),
which of the two answers a request (:meth:`Issuer.respond`) and the back office's clearing rule
(:meth:`Issuer.clear_offline`)."""

from __future__ import annotations

import simpy

from cardsim.model.blacklist import Blacklist
from cardsim.model.card import Card
from cardsim.model.distributions import from_spec, sampler
from cardsim.model.service_point import _Busy
from cardsim.records.record import ISSUER, STANDIN, issuer_id_for

CARD_LOST, ATC_REPLAY, ATC_JUMP = "card_lost", "atc_replay", "atc_jump"
ISSUER_UNAVAILABLE, STANDIN_LIMIT, BLACKLISTED = "issuer_unavailable", "standin_limit", "blacklisted"


class Issuer(_Busy):
    """The issuer of one province's cards."""

    def __init__(self, env: simpy.Environment, province: str, icfg: dict, rng, lo: float = 0.0,
                 hi: float = float("inf")):
        super().__init__(lo, hi)
        self.province = province
        self.issuer_id = issuer_id_for(province)
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
        self.cleared_atc: dict[int, int] = {}  # card serial -> highest ATC seen in clearing

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

    def clear_offline(self, card: Card, atc: int) -> str | None:
        """The back office's rule when it clears an uploaded record (offline records, and the
        online ones it also sees): a counter not above the highest seen for the card is a clone
        or a replayed record, and is rejected (``atc_replay``). Replay clears every record it
        replays against the issuer, in log order, and the live issuer every record it is sent;
        a run does not clear its own taps (a card's counter rises by one a tap, so they cannot
        fail it: ``Simulation._tap``)."""
        # keyed by the card's serial (the issuer's cards are its province's): no card number to build
        seen = self.cleared_atc.get(card.serial)
        if seen is not None and atc <= seen:
            return ATC_REPLAY
        self.cleared_atc[card.serial] = atc
        return None

    def stand_in(self, card: Card, amount: int, channel: str, now: float, blacklist: Blacklist,
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

    def respond(self, card: Card, atc: int, amount: int, channel: str, at: float,
                blacklist: Blacklist, terminal_province: str) -> tuple[str | None, str]:
        """The answer to an online request decided at ``at``: (reason or None, authoriser).

        An issuer in an outage does not decide: the node in front of it applies this issuer's
        stand-in policy (authoriser ``standin``); otherwise the issuer decides (``issuer``).
        """
        if self.down(at):
            return self.stand_in(card, amount, channel, at, blacklist, terminal_province), STANDIN
        return self.decide(card, atc, amount, at), ISSUER

    def serve(self, env: simpy.Environment):
        """SimPy process: wait for one of the issuer's servers and hold it for a service time."""
        with self.resource.request() as req:
            yield req
            start = env.now
            yield env.timeout(self.service())
            self.add(start, env.now)

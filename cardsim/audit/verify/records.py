"""Per-record checks, run in card-sharded workers that see each card's records in seq order:
format, record hash, ATC, the card's certificate and validity, both signatures, revocation."""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass, field

from cardsim.audit.verify.findings import Tally
from cardsim.audit.verify.primitives import (certificate_fields, fast_verifier, read_text,
                                             subject_key, verifier_keys)
from cardsim.domain import PROVINCES
from cardsim.log.container import connect_readonly
from cardsim.model.blacklist import Blacklist
from cardsim.model.card import CODE_PROVINCE
from cardsim.model.places import PROVINCE_TAG, TYPE_TAG
from cardsim.records import encoding as E
from cardsim.records.record import (APPROVED, COLUMN_NAMES, INDEX, ISSUER, OFFLINE, ONLINE, STANDIN,
                                    TERMINAL, Record, merchant_id_for)
from cardsim.signing.crypto import ALGORITHMS, Algorithm
from cardsim.signing.keys import HUB, issuer_name
from cardsim.signing.signer import card_message, transaction_messages

_TYPES = {  # column -> accepted Python types (None allowed where the column may be null)
    "seq": (int,), "tx_id": (str,), "sim_time": (float,), "arrival_time": (float,),
    "wait_s": (float,), "channel": (str,), "service": (str,), "card_id": (str,),
    "card_province": (str,), "category": (str,), "terminal_id": (str,),
    "terminal_province": (str,), "merchant_id": (str,), "issuer_id": (str,),
    "amount_fen": (int,), "concession": (str, type(None)), "atc": (int,), "mode": (str,),
    "outcome": (str,), "reason": (str, type(None)), "authoriser": (str,),
    "auth_latency_s": (float, type(None)), "balance_fen": (int, type(None)),
    "uploaded_at": (float,), "trip_km": (float, type(None)),
    "decided_at": (float,), "unpredictable_number": (int,), "card_sig": (bytes,),
    "issuer_sig": (bytes, type(None)), "prev_hash": (bytes,), "record_hash": (bytes,),
}
#: Every accepted combination of column types (64: six nullable columns). Performance shortcut:
#: one set look-up of a row's types instead of an isinstance call per column. SQLite gives exact
#: types (never a subclass), so the two are the same test.
_ROW_TYPES = frozenset(itertools.product(*(_TYPES[c] for c in COLUMN_NAMES)))
_CARD_CERT_TYPES = (str, str, str, bytes, int, int, str)
# Measured hot loop (RecordChecker.check, every record): index constants, not Record fields.
_CARD, _ATC = INDEX["card_id"], INDEX["atc"]
_UNUSABLE = (ValueError, TypeError, KeyError, E.EncodingError, sqlite3.Error)
#: Terminal id prefix (province tag, service type tag) -> (province, merchant operating it).
_TERMINAL_PREFIX = {f"{pt}-{tt}": (p, merchant_id_for(p, st))
                    for p, pt in PROVINCE_TAG.items() for st, tt in TYPE_TAG.items()}


def terminal_operator(terminal_id: str) -> tuple[str, str] | None:
    """(province, merchant) a terminal id names by its prefix (``SC-MET-003-05``: sichuan,
    sichuan-metro), or None when it names none."""
    return _TERMINAL_PREFIX.get(terminal_id[:6]) if terminal_id[6:7] == "-" else None


def in_outage(outages: list, t: float) -> bool:
    """Whether simulated second ``t`` is in one of the issuer's outage windows [a, b)."""
    return any(a <= t < b for a, b in outages)


@dataclass(frozen=True)
class Context:
    """What signature checks need: plain data, so it can be sent to worker processes."""

    path: str
    algorithm: str
    ca_keys: dict            # name -> DER public key of a CA-layer certificate that checked out
    epoch: int
    delays: dict             # province -> blacklist publication delay (s)
    intervals: dict          # province -> blacklist push interval (s)
    outages: dict            # province -> its issuer's outage windows [(start, end)] (s)
    #: card -> time of its loss report: the coordinator's one reading of the ``blacklist`` table,
    #: the same well-formed rows the blacklist check judged (workers never read that table)
    reported: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CardKey:
    """A card's certified key and validity (unix seconds), or why its certificate is unusable."""

    key: object = None
    not_before: int = 0
    not_after: int = 0
    bad: str | None = None


class RecordChecker:
    """Per-card checks: certificate, validity, revocation and both signatures."""

    def __init__(self, ctx: Context):
        self.alg: Algorithm = ALGORITHMS[ctx.algorithm]
        self.ctx = ctx
        self.ca = verifier_keys(ctx.ca_keys, self.alg)
        self.conn = connect_readonly(ctx.path)
        self.conn.text_factory = read_text
        self.blacklist = Blacklist(ctx.delays, ctx.intervals)
        self.reported = ctx.reported
        self.cards: dict[str, CardKey] = {}
        self.last_atc: dict[str, int] = {}
        self.verify = fast_verifier(self.alg)

    def card(self, card_id: str) -> CardKey:
        """The card's certified key, loaded and checked once per card."""
        got = self.cards.get(card_id)
        if got is None:
            got = self.cards[card_id] = self._load_card(card_id)
        return got

    def _load_card(self, card_id: str) -> CardKey:
        province = card_id.isdigit() and len(card_id) == 12 and CODE_PROVINCE.get(card_id[:2])
        if not province:
            return CardKey(bad="bad_card_number")
        row = self.conn.execute("SELECT body, signature FROM certificates WHERE subject = ? "
                                "AND kind = 'card'", (card_id,)).fetchone()
        if row is None:
            return CardKey(bad="missing")
        return self._card_key(card_id, province, *row)

    def _card_key(self, card_id: str, province: str, body, sig) -> CardKey:
        """The key a card certificate certifies, once it names the card, its province's issuer
        and this log's algorithm, and carries that issuer's valid signature."""
        v = certificate_fields(body, sig, E.CARD_CERT, _CARD_CERT_TYPES)
        if v is None:
            return CardKey(bad="malformed")
        cid, cert_province, alg, pub, nb, na, issuer = v
        if cid != card_id or cert_province != province or issuer != issuer_name(province):
            return CardKey(bad="wrong_subject")
        if alg != self.alg.name:
            return CardKey(bad="wrong_algorithm")
        issuer_key = self.ca.get(issuer)
        if issuer_key is None or not self.verify(issuer_key, sig, body):
            return CardKey(bad="bad_issuer_signature")
        key = subject_key(self.alg, pub)
        return CardKey(bad="bad_public_key") if key is None else CardKey(key, nb, na)

    def close(self) -> None:
        """Close the checker's read-only connection to the log."""
        self.conn.close()

    def merchant_status(self, row: tuple) -> str | None:
        """What a merchant node checks cryptographically before accepting a card (replay): the
        card's certificate, its validity and the card's signature. A reason code, or None."""
        try:
            rec = Record._make(row)
            card = self.card(rec.card_id)
            if card.bad:
                return "bad_card_certificate"
            if not card.not_before <= self.ctx.epoch + rec.sim_time <= card.not_after:
                return "card_expired"
            ok = self.verify(card.key, rec.card_sig, card_message(rec, self.ctx.epoch))
            return None if ok else "bad_card_signature"
        except _UNUSABLE:
            return "bad_card_signature"

    def check(self, items: list[tuple[tuple, bool]], t: Tally) -> None:
        """(row, linked) pairs of this worker's cards in seq order; ``linked`` says whether the
        row's prev_hash linked to the chain (checked by the coordinator, which alone sees the
        log's order)."""
        for row, linked in items:
            hashed = self._hashed(row, t)
            if hashed is None:
                continue
            if not linked:
                t.fail("chain", "prev_hash_mismatch", row[0], row[1])
            elif not hashed:
                t.fail("chain", "record_hash_mismatch", row[0], row[1])
            else:
                t.ok("chain")
            self._atc(row, linked and hashed, t)
            try:
                self._check(Record._make(row), t)
            except _UNUSABLE:
                t.fail("format", "unusable_values", row[0], row[1])

    @staticmethod
    def _hashed(row: tuple, t: Tally) -> bool | None:
        """Whether the record hash matches its content; None (a format finding) when the values
        are unusable."""
        if tuple(map(type, row)) not in _ROW_TYPES:
            t.fail("format", "bad_value_type", row[0], row[1])
            return None
        try:
            hashed = E.record_hash(row[:-2]) == row[-1]
        except (ValueError, E.EncodingError):   # e.g. text that is not UTF-8
            t.fail("format", "unusable_values", row[0], row[1])
            return None
        t.ok("format")
        return hashed

    def _atc(self, row: tuple, on_chain: bool, t: Tally) -> None:
        card_id, atc = row[_CARD], row[_ATC]
        last = self.last_atc.get(card_id)
        if last is None or atc > last:
            t.ok("atc")
            if on_chain:       # a record off the chain teaches nothing about the card
                self.last_atc[card_id] = atc
        else:
            t.fail("atc", "repeated" if atc == last else "decreased", row[0], row[1])

    def _check(self, rec: Record, t: Tally) -> None:
        card = self.card(rec.card_id)
        if card.bad:
            t.fail("card_certificate", card.bad, rec.seq, rec.tx_id)
            return
        t.ok("card_certificate")
        when = self.ctx.epoch + rec.sim_time
        if card.not_before <= when <= card.not_after:
            t.ok("card_validity")
        else:
            t.fail("card_validity", "expired" if when > card.not_after else "not_yet_valid",
                   rec.seq, rec.tx_id)
        msg, auth = transaction_messages(rec, self.ctx.epoch)
        if self.verify(card.key, rec.card_sig, msg):
            t.ok("card_signature")
        else:
            t.fail("card_signature", "invalid", rec.seq, rec.tx_id)
        self._issuer(rec, auth, t)
        self._consistency(rec, t)
        self._revocation(rec, t)

    def _consistency(self, rec: Record, t: Tally) -> None:
        """What the log's own columns and the run's configuration allow: the card number names
        the card's province, the terminal id names its province and the merchant operating it,
        and a stand-in decision falls in an outage of the card's issuer."""
        province = CODE_PROVINCE[rec.card_id[:2]]
        if rec.card_province != province:
            t.fail("consistency", "card_province", rec.seq, rec.tx_id)
        elif terminal_operator(rec.terminal_id) != (rec.terminal_province, rec.merchant_id):
            t.fail("consistency", "terminal_merchant", rec.seq, rec.tx_id)
        elif rec.authoriser == STANDIN and not in_outage(self.ctx.outages[province], rec.decided_at):
            t.fail("consistency", "standin_outside_outage", rec.seq, rec.tx_id)
        else:
            t.ok("consistency")

    def _issuer(self, rec: Record, auth: bytes | None, t: Tally) -> None:
        if rec.authoriser in (ISSUER, STANDIN) and rec.mode == ONLINE:
            self._issuer_signed(rec, auth, t)
        elif rec.authoriser == TERMINAL and (rec.mode == OFFLINE or rec.reason == "issuer_timeout"):
            if rec.issuer_sig is None:
                t.ok("issuer_signature")
            else:
                t.fail("issuer_signature", "unexpected", rec.seq, rec.tx_id)
        else:
            t.fail("issuer_signature", "bad_authoriser", rec.seq, rec.tx_id)

    def _issuer_signed(self, rec: Record, resp: bytes, t: Tally) -> None:
        """An online decision: the issuer's (stand-in: the hub's) signature over its answer
        ``resp`` (the auth_response message, bound to the card's request)."""
        home = issuer_name(CODE_PROVINCE[rec.card_id[:2]])
        if rec.issuer_id != home:
            t.fail("issuer_signature", "wrong_issuer", rec.seq, rec.tx_id)
            return
        signer = HUB if rec.authoriser == STANDIN else home
        key = self.ca.get(signer)
        if rec.issuer_sig is None:
            t.fail("issuer_signature", "missing", rec.seq, rec.tx_id)
        elif key is not None and self.verify(key, rec.issuer_sig, resp):
            t.ok("issuer_signature")
        else:
            t.fail("issuer_signature", "invalid", rec.seq, rec.tx_id)

    def _revocation(self, rec: Record, t: Tally) -> None:
        """No approval by a node that held the card's loss report (``Blacklist`` timing)."""
        lost = self.reported.get(rec.card_id)
        if lost is None or rec.outcome != APPROVED:
            t.ok("revocation")
            return
        if rec.authoriser == ISSUER:
            knew = rec.sim_time >= lost
        else:  # terminal or stand-in: from the blacklist the terminal's province holds
            province = CODE_PROVINCE[rec.card_id[:2]]
            knew = (rec.terminal_province in PROVINCES
                    and rec.sim_time >= self.blacklist.reaches(lost, province, rec.terminal_province))
        if knew:
            which = "report" if rec.authoriser == ISSUER else "blacklist"
            t.fail("revocation", f"approved_after_{which}", rec.seq, rec.tx_id)
        else:
            t.ok("revocation")


class RecordWorker:
    """A pool worker (:class:`cardsim.workers.ShardedPool`): checks its card shard's records into
    one tally, returned when the work is done."""

    def __init__(self, ctx: Context):
        self.checker = RecordChecker(ctx)
        self.tally = Tally()

    def handle(self, items: list[tuple[tuple, bool]]) -> None:
        self.checker.check(items, self.tally)

    def finish(self) -> Tally:
        self.checker.close()
        return self.tally

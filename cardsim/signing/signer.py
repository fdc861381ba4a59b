"""Signing a run's records: the card's signature on every transaction, the issuer's (or the hub's,
in stand-in) on every online decision, the issuer's certificate for every card a log uses, and
each issuer's signature over its loss reports (:func:`sign_blacklists`).

:class:`RecordSigner` runs in the signing worker processes. Each worker owns the cards whose number
falls in its shard (``workers.shard_of``), so a card's key is derived and its certificate issued
exactly once per log, whatever the number of workers; every signature is deterministic, so the log
is the same byte for byte with one worker or many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from cardsim.domain import PROVINCES
from cardsim.model.card import CODE_PROVINCE, card_validity
from cardsim.records.encoding import (CARD_REQUEST, CARD_TX, ENCODERS, auth_response_message,
                                      blacklist_message, card_cert_body, card_state_message,
                                      card_states_digest, loss_reports_digest, sha256)
from cardsim.records.record import ISSUER, STANDIN, columns_getter
from cardsim.signing.certificate import Certificate
from cardsim.signing.keys import HUB, KeyRing, card_keys, issuer_name
from cardsim.signing.register import CardRegister, check_entry, entry_tag, fingerprint

# Performance shortcut: the signing loop reads rows through getters built once from the column
# names (record.columns_getter); see there for why rows stay plain tuples.
_request_head = columns_getter("card_id", "atc", "amount_fen", "terminal_id", "unpredictable_number")
_request_tail = columns_getter("sim_time", "channel", "service", "mode")
_meaning = columns_getter("outcome", "reason", "authoriser", "balance_fen")
_response = columns_getter("outcome", "reason", "authoriser", "decided_at", "issuer_id")
_issuer_id = columns_getter("issuer_id")
_seq = columns_getter("seq")
_card_id = columns_getter("card_id")
_authoriser = columns_getter("authoriser")
_encode_card_tx = ENCODERS[CARD_TX]
_encode_request = ENCODERS[CARD_REQUEST]

#: A certificate first needed by a signed row: (the row's seq, the certificate).
SeqCertificate = tuple[int, Certificate]
#: How an attacker signs a marked row (``cardsim.attacks`` provides one): called with the mark's
#: kind, the model row and the signing process's :class:`RecordSigner`; returns the card
#: signature (None: the genuine card key signs) and a certificate the attacker brings (or None).
AttackSigner = Callable[[str, tuple, "RecordSigner"], tuple[Optional[bytes], Optional[Certificate]]]


@dataclass(frozen=True)
class SignSpec:
    """What a signing process needs: where its keys are (never the keys themselves), and the
    attack signer it plugs in when the run injects attacks.

    The passphrase is resolved by the parent (worker processes fork from a server started earlier
    and do not see the parent's environment as it is now); it is never shown by ``repr``.
    """

    keys_dir: str
    passphrase: bytes | None = field(repr=False)
    card_keys: dict          # province -> population key (for card validity dates)
    epoch: int               # unix time of sim_time 0
    attack_signer: AttackSigner | None = None   # a module-level function: it travels pickled


def card_request(row: tuple, epoch: int) -> tuple:
    """The card's request values of a row (``encoding.CARD_REQUEST_FIELDS`` order): the row's
    columns and the run's calendar start ``epoch`` (unix seconds of sim_time 0)."""
    return (*_request_head(row), epoch, *_request_tail(row))


def transaction_messages(row: tuple, epoch: int) -> tuple[bytes, bytes | None]:
    """(the card_tx message the card signs, the auth_response message of an online answer or
    None) of a row (model, signed or :data:`Record`, in COLUMN_NAMES order).

    Online, the issuer (stand-in: the hub) answers over the SHA-256 of the card's request, and
    the card signs the outcome over the SHA-256 of that answer (ARQC, ARPC, then TC or AAC);
    offline and for a terminal's time-out, the card signs the outcome the terminal took."""
    request = card_request(row, epoch)
    outcome, reason, authoriser, balance = _meaning(row)
    if authoriser == ISSUER or authoriser == STANDIN:
        auth = auth_message(row, sha256(_encode_request(request)))
        return _encode_card_tx((*request, outcome, reason, authoriser, balance, sha256(auth))), auth
    return _encode_card_tx((*request, outcome, reason, authoriser, balance, None)), None


def card_message(row: tuple, epoch: int) -> bytes:
    """The card_tx message of a row: what the card signs (:func:`transaction_messages`)."""
    return transaction_messages(row, epoch)[0]


def auth_message(row: tuple, request_hash: bytes) -> bytes:
    """The auth_response message of an online row, signed by the issuer or, in stand-in, the hub:
    the decision, when it was taken, and the hash of the card's request it answers."""
    outcome, reason, authoriser, decided_at, issuer_id = _response(row)
    signer = HUB if authoriser == STANDIN else issuer_id
    return auth_response_message(signer, outcome, reason, authoriser, decided_at, request_hash)


class RecordSigner:
    """Signs model rows for the cards of one shard: card and issuer signatures, certificates."""

    def __init__(self, spec: SignSpec):
        ring = KeyRing.load(spec.keys_dir, spec.passphrase,
                            names=[issuer_name(p) for p in PROVINCES] + [HUB])
        self.alg = ring.algorithm
        self.cards = {p: card_keys(ring, p, capacity=200_000) for p in PROVINCES}
        self.issuer_keys = {issuer_name(p): self.alg.signing_key(ring.private[issuer_name(p)])
                            for p in PROVINCES}
        self.hub_key = self.alg.signing_key(ring.private[HUB])
        self.spec = spec
        self.attack_signer = spec.attack_signer
        self.certified: set[int] = set()   # card numbers (as int) certified in this log
        self.register = CardRegister(spec.keys_dir)     # cards issued before (register.py)
        self._known: dict[str, list] = {}
        self.issuer_fp = {p: fingerprint(self.alg.public_bytes(ring.certs[issuer_name(p)].public_key()))
                          for p in PROVINCES}
        self._register_keys = {p: ring.register_secret(p) for p in PROVINCES}

    def __repr__(self) -> str:
        return f"RecordSigner({self.alg.name})"

    @property
    def epoch(self) -> int:
        """Unix time of sim_time 0 (certificate validity is in unix seconds)."""
        return self.spec.epoch

    def card_key(self, card_id: str, province: str) -> tuple:
        """The card's genuine (signing key, public key bytes)."""
        return self.cards[province].get(card_id)

    def issuer_key(self, province: str):
        """The signing key of the province's issuer."""
        return self.issuer_keys[issuer_name(province)]

    def sign(self, rows: list[tuple], marks: dict[int, str] | None = None
             ) -> tuple[list[tuple], list[SeqCertificate]]:
        """Model rows -> rows + (card_sig, issuer_sig), and the card certificates first needed by
        these rows. ``marks`` (seq -> attack kind) names the rows an attacker made: the attack
        signer signs those."""
        self._look_up_new_cards(rows)
        out: list[tuple] = []
        certs: list[SeqCertificate] = []
        for row in rows:
            kind = marks.get(_seq(row)) if marks else None
            out.append(self._sign_row(row, certs) if kind is None
                       else self._attack(row, kind, certs))
        return out, certs

    def _sign_row(self, row: tuple, certs: list[SeqCertificate]) -> tuple:
        card_id = _card_id(row)
        province = CODE_PROVINCE[card_id[:2]]
        number = int(card_id)
        if number not in self.certified:
            self.certified.add(number)
            certs.append((_seq(row), self.issue(card_id, province)))
        key = self.cards[province].get(card_id)[0]
        msg, auth = transaction_messages(row, self.spec.epoch)
        issuer_sig = None
        if auth is not None:
            signer = self.hub_key if _authoriser(row) == STANDIN else self.issuer_keys[_issuer_id(row)]
            issuer_sig = self.alg.sign(signer, auth)
        return row + (self.alg.sign(key, msg), issuer_sig)

    def _attack(self, row: tuple, kind: str, certs: list[SeqCertificate]) -> tuple:
        if self.attack_signer is None:
            raise RuntimeError(f"seq {_seq(row)}: marked {kind!r} but no attack signer plugged in")
        card_sig, cert = self.attack_signer(kind, row, self)
        if cert is not None:
            self.certified.add(int(_card_id(row)))
            certs.append((_seq(row), cert))
        if card_sig is None:                       # clones and revoked cards: the genuine key
            return self._sign_row(row, certs)
        return row + (card_sig, None)

    def _look_up_new_cards(self, rows) -> None:
        """Ask the card register, once per batch, for the cards new to this log."""
        new: dict[str, set] = {}
        certified = self.certified
        for row in rows:
            card_id = _card_id(row)
            if card_id.isdigit() and int(card_id) not in certified:
                new.setdefault(CODE_PROVINCE.get(card_id[:2]), set()).add(card_id)
        self._known = {}
        for province, ids in new.items():
            if province is not None:
                self._known.update(self.register.lookup(self.issuer_fp[province], sorted(ids)))

    def issue(self, card_id: str, province: str) -> Certificate:
        """The card's certificate for this log, over the public key derived from the card's seed
        (never one from outside); its signature from the card register when the card was issued
        before with this issuer key and validity (the entry checked), else made now and added."""
        serial = int(card_id[2:])
        nb, na = card_validity(self.spec.card_keys[province], serial, self.spec.epoch)
        issuer = issuer_name(province)
        pub = self.cards[province].get(card_id)[1]
        fp, key = self.issuer_fp[province], self._register_keys[province]
        known = [e for e in self._known.pop(card_id, ()) if (e.not_before, e.not_after) == (nb, na)]
        body = card_cert_body(card_id, province, self.alg.name, pub, nb, na, issuer)
        if known:
            sig = check_entry(self.register.path, key, fp, card_id, pub, known[0])
        else:
            sig = self.alg.sign(self.issuer_keys[issuer], body)
            self.register.add(fp, card_id, pub, nb, na, sig,
                              entry_tag(key, fp, card_id, pub, nb, na, sig))
        return Certificate(card_id, "card", issuer, self.alg.name, body, sig)

    def close(self) -> None:
        """Save the cards this process issued to the register."""
        self.register.save()


def sign_blacklists(ring: KeyRing, rows: list[tuple], log_id: bytes, end_time: float) -> list[tuple]:
    """Each issuer's signature over its province's loss reports as the ``blacklist`` table holds
    them (the last report of a card wins), for the log ``log_id`` over simulated seconds
    [0, end_time]: ``blacklist_signatures`` rows (province, issuer, count, reports_digest,
    signature), one per province, an empty list included."""
    final = {cid: (prov, t) for cid, prov, t in rows}
    out = []
    for province in PROVINCES:
        issuer = issuer_name(province)
        reports = [(cid, t) for cid, (prov, t) in final.items() if prov == province]
        digest = loss_reports_digest(reports)
        msg = blacklist_message(log_id, float(end_time), issuer, province, len(reports), digest)
        key = ring.algorithm.signing_key(ring.private[issuer])
        out.append((province, issuer, len(reports), digest, ring.algorithm.sign(key, msg)))
    return out


def sign_card_state(ring: KeyRing, rows: list[tuple], log_id: bytes, end_time: float) -> list[tuple]:
    """The hub's signature over the cards' state as the ``card_state`` table holds it when the
    log ``log_id`` ends at ``end_time``: one ``card_state_signature`` row (signer, count,
    states_digest, signature)."""
    digest = card_states_digest(rows)
    msg = card_state_message(log_id, float(end_time), len(rows), digest)
    key = ring.algorithm.signing_key(ring.private[HUB])
    return [(HUB, len(rows), digest, ring.algorithm.sign(key, msg))]

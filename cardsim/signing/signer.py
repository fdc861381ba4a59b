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

from cardsim.domain import PROVINCES
from cardsim.model.card import CODE_PROVINCE, card_validity
from cardsim.records.encoding import (auth_response_message, blacklist_message, card_cert_body, card_tx_message,
                       loss_reports_digest, sha256)
from cardsim.signing.keys import HUB, KeyRing, card_keys, issuer_name
from cardsim.records.record import INDEX, ISSUER, STANDIN
from cardsim.signing.register import CardRegister, fingerprint

_CARD = INDEX["card_id"]
_ATC = INDEX["atc"]
_AMOUNT = INDEX["amount_fen"]
_TERMINAL = INDEX["terminal_id"]
_UN = INDEX["unpredictable_number"]
_TIME = INDEX["sim_time"]
_CHANNEL = INDEX["channel"]
_SERVICE = INDEX["service"]
_MODE = INDEX["mode"]
_OUTCOME = INDEX["outcome"]
_REASON = INDEX["reason"]
_AUTHORISER = INDEX["authoriser"]
_ISSUER_ID = INDEX["issuer_id"]
_SEQ = INDEX["seq"]
MODEL_ROW_LEN = _PLAIN = INDEX["unpredictable_number"] + 1   # a model row; longer: an attack


@dataclass(frozen=True)
class SignSpec:
    """What a signing process needs to load its keys: never the keys themselves.

    The passphrase is resolved by the parent (worker processes fork from a server started earlier
    and do not see the parent's environment as it is now); it is never shown by ``repr``.
    """

    keys_dir: str
    passphrase: bytes | None = field(repr=False)
    card_keys: dict          # province -> population key (for card validity dates)
    epoch: int               # unix time of sim_time 0


def card_message(row) -> bytes:
    """The card_tx message of a record (row in COLUMN_NAMES order)."""
    return card_tx_message(row[_CARD], row[_ATC], row[_AMOUNT], row[_TERMINAL], row[_UN],
                           row[_TIME], row[_CHANNEL], row[_SERVICE], row[_MODE])


def auth_message(row, tx_hash: bytes) -> bytes:
    signer = HUB if row[_AUTHORISER] == STANDIN else row[_ISSUER_ID]
    return auth_response_message(signer, row[_OUTCOME], row[_REASON], row[_AUTHORISER], tx_hash)


class RecordSigner:
    def __init__(self, spec: SignSpec):
        ring = KeyRing.load(spec.keys_dir, spec.passphrase,
                            names=[issuer_name(p) for p in PROVINCES] + [HUB])
        self.alg = ring.algorithm
        self.cards = {p: card_keys(ring, p, capacity=200_000) for p in PROVINCES}
        self.issuer_keys = {issuer_name(p): self.alg.signing_key(ring.private[issuer_name(p)])
                            for p in PROVINCES}
        self.hub_key = self.alg.signing_key(ring.private[HUB])
        self.spec = spec
        self.certified: set[int] = set()   # card numbers (as int) certified in this log
        self.register = CardRegister(spec.keys_dir)     # cards issued before (register.py)
        self._known: dict[str, list] = {}
        self.issuer_fp = {p: fingerprint(self.alg.public_bytes(ring.certs[issuer_name(p)].public_key()))
                          for p in PROVINCES}

    def __repr__(self) -> str:
        return f"RecordSigner({self.alg.name})"

    def sign(self, rows: list[tuple]) -> tuple[list[tuple], list[tuple]]:
        """Rows (model columns + unpredictable_number) -> rows + (card_sig, issuer_sig), and the
        card certificates first needed by these rows as (seq, subject, kind, issuer, alg, body, sig)."""
        self._look_up_new_cards(rows)
        return self._sign_rows(rows)

    def _sign_rows(self, rows: list[tuple]) -> tuple[list[tuple], list[tuple]]:
        sign = self.alg.sign
        out, certs = [], []
        for row in rows:
            if len(row) > _PLAIN:                  # an injected attack (cardsim.attacks.injection)
                out.append(self._attack(row[:_PLAIN], row[-1], certs))
                continue
            card_id = row[_CARD]
            province = CODE_PROVINCE[card_id[:2]]
            number = int(card_id)
            if number not in self.certified:
                self.certified.add(number)
                certs.append((row[_SEQ],) + self.issue(card_id, province))
            key = self.cards[province].get(card_id)[0]
            msg = card_message(row)
            issuer_sig = None
            auth = row[_AUTHORISER]
            if auth == ISSUER or auth == STANDIN:
                signer = self.hub_key if auth == STANDIN else self.issuer_keys[row[_ISSUER_ID]]
                issuer_sig = sign(signer, auth_message(row, sha256(msg)))
            out.append(row + (sign(key, msg), issuer_sig))
        return out, certs

    def _attack(self, row: tuple, kind: str, certs: list) -> tuple:
        from cardsim.attacks.injection import attack_signature
        card_sig, cert = attack_signature(kind, row, self)
        if cert is not None:
            self.certified.add(int(row[_CARD]))
            certs.append((row[_SEQ],) + cert)
        if card_sig is None:                       # clones and revoked cards: the genuine key
            signed, extra = self._sign_rows([row])
            certs.extend(extra)
            return signed[0]
        return row + (card_sig, None)

    def _look_up_new_cards(self, rows) -> None:
        """Ask the card register, once per batch, for the cards new to this log."""
        new: dict[str, set] = {}
        certified = self.certified
        for row in rows:
            card_id = row[_CARD]
            if card_id.isdigit() and int(card_id) not in certified:
                new.setdefault(CODE_PROVINCE.get(card_id[:2]), set()).add(card_id)
        self._known = {}
        for province, ids in new.items():
            if province is not None:
                self._known.update(self.register.lookup(self.issuer_fp[province], sorted(ids)))

    def issue(self, card_id: str, province: str) -> tuple:
        """The card's certificate row for this log, from the card register when the card was
        issued before (same issuer key and validity), else made now and added to it."""
        serial = int(card_id[2:])
        nb, na = card_validity(self.spec.card_keys[province], serial, self.spec.epoch)
        issuer = issuer_name(province)
        known = self._known.pop(card_id, None)
        sig = None
        if known:
            pub = known[0][0]
            self.cards[province].prime(card_id, pub)
            sig = next((k[3] for k in known if k[1] == nb and k[2] == na), None)
        else:
            pub = self.cards[province].get(card_id)[1]
        body = card_cert_body(card_id, province, self.alg.name, pub, nb, na, issuer)
        if sig is None:
            sig = self.alg.sign(self.issuer_keys[issuer], body)
            self.register.add(self.issuer_fp[province], card_id, pub, nb, na, sig)
        return (card_id, "card", issuer, self.alg.name, body, sig)

    def close(self) -> None:
        """Save the cards this process issued to the register."""
        self.register.save()


def sign_blacklists(ring: KeyRing, rows: list[tuple]) -> list[tuple]:
    """Each issuer's signature over its province's loss reports as the ``blacklist`` table holds
    them (the last report of a card wins): ``blacklist_signatures`` rows (province, issuer,
    count, reports_digest, signature), one per province, an empty list included."""
    final = {cid: (prov, t) for cid, prov, t in rows}
    out = []
    for province in PROVINCES:
        issuer = issuer_name(province)
        reports = [(cid, t) for cid, (prov, t) in final.items() if prov == province]
        digest = loss_reports_digest(reports)
        msg = blacklist_message(issuer, province, len(reports), digest)
        key = ring.algorithm.signing_key(ring.private[issuer])
        out.append((province, issuer, len(reports), digest, ring.algorithm.sign(key, msg)))
    return out

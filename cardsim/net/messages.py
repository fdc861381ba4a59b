"""The messages of docs/protocol.md: ISO 8583:1987 through ``pyiso8583`` (the codec), the card's
data and the answer's signature in field 55 (BER-TLV, :mod:`cardsim.net.tlv`).

:class:`AuthRequest` holds what an 0100 carries: the card's request (the fields of the
``card_request`` message, ``cardsim.records.encoding``), the moment the deciding node decides on
the simulated clock, the card's certificate, and the card's cryptogram with what it covers. A
cardsim card signs once, after the answer (its TC or AAC over the request, the outcome and the
hash of the answer: ``signing.signer.transaction_messages``); a replayed request therefore
carries the recorded cryptogram and the recorded outcome it covers, so the node verifies the
card's signature over exactly the bytes the card signed. No decision reads those outcome tags.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, replace
from functools import cached_property

import iso8583
from iso8583.specs import default as _base_spec

from cardsim.model.card import parse_card_id
from cardsim.net import tlv
from cardsim.records.record import COLUMN_NAMES, Record, issuer_id_for

#: The ISO 8583 field layout: pyiso8583's 1987 layout (binary bitmaps, ASCII fields), with
#: field 55 binary up to 999 bytes. pyiso8583 holds a binary field as hex text.
SPEC = {k: dict(v) for k, v in _base_spec.items()}
SPEC["55"] = dict(SPEC["55"], max_len=999)

AUTH_REQUEST, AUTH_RESPONSE = "0100", "0110"
ADVICE, ADVICE_RESPONSE = "0120", "0130"
REVERSAL, REVERSAL_RESPONSE = "0400", "0410"
NETWORK, NETWORK_RESPONSE = "0800", "0810"
UPLOAD, UPLOAD_RESPONSE = "0320", "0330"     # one offline record of a terminal's batch upload
SIGN_ON, ECHO = "001", "301"
CURRENCY = "156"           # CNY, ISO 4217; the country (ISO 3166) is 156 as well
PROCESSING_CODE = "000000"  # goods and services
ENTRY_MODE = "051"          # chip
_BEIJING = dt.timezone(dt.timedelta(hours=8))

# field 55 tags (docs/protocol.md, "Field 55")
T_CRYPTOGRAM, T_ATC, T_UN, T_AMOUNT = 0x9F26, 0x9F36, 0x9F37, 0x9F02
T_CURRENCY, T_COUNTRY, T_DATE, T_TIME = 0x5F2A, 0x9F1A, 0x9A, 0x9F21
T_EPOCH, T_SIM_TIME, T_TERMINAL, T_CHANNEL = 0xDF01, 0xDF02, 0xDF03, 0xDF04
T_SERVICE, T_MODE, T_DECIDED_AT, T_TERMINAL_PROVINCE = 0xDF05, 0xDF06, 0xDF07, 0xDF08
T_OUTCOME, T_REASON, T_AUTHORISER, T_BALANCE = 0xDF10, 0xDF11, 0xDF12, 0xDF13
T_CERT_BODY, T_CERT_SIG = 0xDF20, 0xDF21
T_ISSUER_AUTH, T_SIGNER, T_RESP_AUTHORISER, T_RESP_DECIDED_AT = 0x91, 0xDF31, 0xDF32, 0xDF30

_F64, _I64, _U32 = struct.Struct(">d"), struct.Struct(">q"), struct.Struct(">I")


class MessageError(ValueError):
    """A message that does not follow docs/protocol.md (answered with code 30 when its type and
    trace number can be read)."""


def decode(data: bytes) -> dict:
    """An ISO 8583 message -> pyiso8583's field dict; :class:`MessageError` on anything else."""
    try:
        doc, _ = iso8583.decode(bytes(data), SPEC)
    except (iso8583.DecodeError, ValueError, TypeError, IndexError) as e:
        raise MessageError(f"not an ISO 8583 message: {str(e)[:120]}") from None
    return doc


def encode(doc: dict) -> bytes:
    try:
        raw, _ = iso8583.encode(dict(doc), SPEC)
    except (iso8583.EncodeError, ValueError, TypeError) as e:
        raise MessageError(f"cannot encode: {str(e)[:120]}") from None
    return bytes(raw)


def _bcd(digits: str) -> bytes:
    return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)


def clock(epoch: int, sim_time: float) -> dt.datetime:
    """The card's clock (Beijing time) at ``sim_time``, for the informational date fields."""
    return dt.datetime.fromtimestamp(epoch + int(sim_time), _BEIJING)


def _text(value: str) -> bytes:
    return value.encode("utf-8")


@dataclass(frozen=True)
class AuthRequest:
    """An authorisation request (0100) or, with ``advice_code``, an advice (0120)."""

    stan: str
    tx_id: str
    card_id: str
    atc: int
    amount_fen: int
    terminal_id: str
    un: int
    epoch: int
    sim_time: float
    channel: str
    service: str
    mode: str
    terminal_province: str
    decided_at: float
    cryptogram: bytes
    outcome: str                 # what the cryptogram covers besides the request
    reason: str | None
    authoriser: str
    balance_fen: int | None
    cert_body: bytes
    cert_sig: bytes

    @classmethod
    def from_record(cls, rec: Record, epoch: int, stan: str, cert: tuple[bytes, bytes]
                    ) -> "AuthRequest":
        return cls(stan, rec.tx_id, rec.card_id, rec.atc, rec.amount_fen, rec.terminal_id,
                   rec.unpredictable_number, epoch, rec.sim_time, rec.channel, rec.service,
                   rec.mode, rec.terminal_province, rec.decided_at, rec.card_sig, rec.outcome,
                   rec.reason, rec.authoriser, rec.balance_fen, cert[0], cert[1])

    def with_(self, **changes) -> "AuthRequest":
        return replace(self, **changes)

    @cached_property
    def row(self) -> Record:
        """The request as a log record (columns it does not carry are null): what the node layer
        and the card checks read."""
        province = parse_card_id(self.card_id)[0]
        values = {"tx_id": self.tx_id, "sim_time": self.sim_time, "channel": self.channel,
                  "service": self.service, "card_id": self.card_id, "card_province": province,
                  "terminal_id": self.terminal_id, "terminal_province": self.terminal_province,
                  "issuer_id": issuer_id_for(province), "amount_fen": self.amount_fen,
                  "atc": self.atc, "mode": self.mode, "outcome": self.outcome,
                  "reason": self.reason, "authoriser": self.authoriser,
                  "balance_fen": self.balance_fen, "decided_at": self.decided_at,
                  "unpredictable_number": self.un, "card_sig": self.cryptogram, "seq": 0}
        return Record._make(values.get(c) for c in COLUMN_NAMES)

    def field55(self) -> bytes:
        when = clock(self.epoch, self.sim_time)
        items = [(T_CRYPTOGRAM, self.cryptogram), (T_ATC, _U32.pack(self.atc)),
                 (T_UN, _U32.pack(self.un)), (T_AMOUNT, _bcd(f"{self.amount_fen:012d}")),
                 (T_CURRENCY, _bcd("0" + CURRENCY)), (T_COUNTRY, _bcd("0" + CURRENCY)),
                 (T_DATE, _bcd(when.strftime("%y%m%d"))), (T_TIME, _bcd(when.strftime("%H%M%S"))),
                 (T_EPOCH, _I64.pack(self.epoch)), (T_SIM_TIME, _F64.pack(self.sim_time)),
                 (T_TERMINAL, _text(self.terminal_id)), (T_CHANNEL, _text(self.channel)),
                 (T_SERVICE, _text(self.service)), (T_MODE, _text(self.mode)),
                 (T_DECIDED_AT, _F64.pack(self.decided_at)),
                 (T_TERMINAL_PROVINCE, _text(self.terminal_province)),
                 (T_OUTCOME, _text(self.outcome)), (T_AUTHORISER, _text(self.authoriser))]
        if self.reason is not None:
            items.append((T_REASON, _text(self.reason)))
        if self.balance_fen is not None:
            items.append((T_BALANCE, _I64.pack(self.balance_fen)))
        items += [(T_CERT_BODY, self.cert_body), (T_CERT_SIG, self.cert_sig)]
        return tlv.encode(items)

    def encode(self, mti: str = AUTH_REQUEST, extra: dict | None = None) -> bytes:
        when = clock(self.epoch, self.sim_time)
        doc = {"t": mti, "2": self.card_id, "3": PROCESSING_CODE, "4": f"{self.amount_fen:012d}",
               "7": when.strftime("%m%d%H%M%S"), "11": self.stan, "22": ENTRY_MODE,
               "37": self.tx_id[:12].ljust(12), "42": self.terminal_id[:15].ljust(15),
               "49": CURRENCY, "55": self.field55().hex().upper(), **(extra or {})}
        return encode(doc)


def field55(doc: dict) -> bytes:
    """Field 55's bytes (pyiso8583 holds binary fields as hex text)."""
    try:
        return bytes.fromhex(doc.get("55") or "")
    except (ValueError, TypeError):
        raise MessageError("field 55: not binary data") from None


def _need(doc: dict, field: str, width: int | None = None, digits: bool = True) -> str:
    v = doc.get(field)
    if not isinstance(v, str) or (width is not None and len(v) != width) or (digits and not v.isdigit()):
        raise MessageError(f"field {field}: missing or malformed")
    return v


def _tag(tags: dict, tag: int, size: int | None = None) -> bytes:
    v = tags.get(tag)
    if v is None or (size is not None and len(v) != size):
        raise MessageError(f"field 55 tag {tag:X}: missing or of the wrong length")
    return v


def _tag_text(tags: dict, tag: int, optional: bool = False) -> str | None:
    if optional and tag not in tags:
        return None
    try:
        return _tag(tags, tag).decode("utf-8")
    except UnicodeDecodeError:
        raise MessageError(f"field 55 tag {tag:X}: not UTF-8") from None


def _float(tags: dict, tag: int) -> float:
    return _F64.unpack(_tag(tags, tag, 8))[0]


def parse_request(doc: dict) -> AuthRequest:
    """An 0100 (or 0120, 0320) field dict -> :class:`AuthRequest`; :class:`MessageError` when a field
    is missing, malformed or disagrees with field 55."""
    stan = _need(doc, "11", 6)
    card_id = _need(doc, "2")
    if parse_card_id(card_id) is None:
        raise MessageError("field 2: not a cardsim card number")
    amount = int(_need(doc, "4", 12))
    try:
        tags = tlv.decode(field55(doc))
    except tlv.TLVError as e:
        raise MessageError(f"field 55: {e}") from None
    if _tag(tags, T_AMOUNT, 6).hex() != f"{amount:012d}":
        raise MessageError("field 55 tag 9F02: disagrees with field 4")
    balance = tags.get(T_BALANCE)
    return AuthRequest(
        stan=stan, tx_id=_need(doc, "37", 12, digits=False).rstrip(), card_id=card_id,
        atc=_U32.unpack(_tag(tags, T_ATC, 4))[0], amount_fen=amount,
        terminal_id=_tag_text(tags, T_TERMINAL), un=_U32.unpack(_tag(tags, T_UN, 4))[0],
        epoch=_I64.unpack(_tag(tags, T_EPOCH, 8))[0], sim_time=_float(tags, T_SIM_TIME),
        channel=_tag_text(tags, T_CHANNEL), service=_tag_text(tags, T_SERVICE),
        mode=_tag_text(tags, T_MODE), terminal_province=_tag_text(tags, T_TERMINAL_PROVINCE),
        decided_at=_float(tags, T_DECIDED_AT), cryptogram=_tag(tags, T_CRYPTOGRAM),
        outcome=_tag_text(tags, T_OUTCOME), reason=_tag_text(tags, T_REASON, optional=True),
        authoriser=_tag_text(tags, T_AUTHORISER),
        balance_fen=None if balance is None else _I64.unpack(_tag(tags, T_BALANCE, 8))[0],
        cert_body=_tag(tags, T_CERT_BODY), cert_sig=_tag(tags, T_CERT_SIG))


@dataclass(frozen=True)
class AuthResponse:
    """An authorisation response (0110): the code, and for a decision who signed it, as which
    authoriser, when, and the signature (tag 91) over the auth_response message."""

    stan: str
    card_id: str
    tx_id: str
    amount_fen: int
    code: str
    signer: str | None = None
    authoriser: str | None = None
    decided_at: float | None = None
    signature: bytes | None = None

    def encode(self, mti: str = AUTH_RESPONSE) -> bytes:
        doc = {"t": mti, "2": self.card_id, "4": f"{self.amount_fen:012d}",
               "11": self.stan, "37": self.tx_id[:12].ljust(12), "39": self.code}
        if self.signature is not None:
            doc["55"] = tlv.encode([(T_ISSUER_AUTH, self.signature),
                                    (T_SIGNER, _text(self.signer)),
                                    (T_RESP_AUTHORISER, _text(self.authoriser)),
                                    (T_RESP_DECIDED_AT, _F64.pack(self.decided_at))]).hex().upper()
        return encode(doc)


def parse_response(doc: dict, mti: str = AUTH_RESPONSE) -> AuthResponse:
    if doc.get("t") != mti:
        raise MessageError(f"expected an {mti}, got {str(doc.get('t'))[:8]!r}")
    code = _need(doc, "39", 2, digits=False)
    base = dict(stan=_need(doc, "11", 6), card_id=_need(doc, "2"),
                tx_id=_need(doc, "37", 12, digits=False).rstrip(),
                amount_fen=int(_need(doc, "4", 12)), code=code)
    if "55" not in doc:
        return AuthResponse(**base)
    try:
        tags = tlv.decode(field55(doc))
    except tlv.TLVError as e:
        raise MessageError(f"field 55: {e}") from None
    return AuthResponse(**base, signer=_tag_text(tags, T_SIGNER),
                        authoriser=_tag_text(tags, T_RESP_AUTHORISER),
                        decided_at=_float(tags, T_RESP_DECIDED_AT),
                        signature=_tag(tags, T_ISSUER_AUTH))


def reply(doc: dict, mti: str, code: str) -> bytes:
    """The answer of type ``mti`` to ``doc`` with response code ``code``, echoing the fields that
    match it to its request (2, 4, 7, 11, 37, 70, whichever it has)."""
    out = {"t": mti, "39": code}
    for f in ("2", "4", "7", "11", "37", "70"):
        if isinstance(doc.get(f), str):
            out[f] = doc[f]
    return encode(out)


def network_request(stan: str, code: str = ECHO, when: dt.datetime | None = None) -> bytes:
    when = when or dt.datetime.now(_BEIJING)
    return encode({"t": NETWORK, "7": when.strftime("%m%d%H%M%S"), "11": stan, "70": code})

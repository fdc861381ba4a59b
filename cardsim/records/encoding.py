"""The canonical byte encoding of everything cardsim signs or hashes. One place; specified in
docs/log-format.md ("Byte layout"), with test vectors in tests/vectors/.

A message is::

    "CSIM" | version (1 byte) | role (1 byte) | count (u16) | value ...

and each value is a type byte followed by its bytes (all integers big-endian)::

    0x00 null
    0x01 integer   i64
    0x02 real      IEEE 754 binary64
    0x03 text      u32 length | UTF-8 bytes
    0x04 blob      u32 length | bytes

The role byte separates domains: a signature made for one role never verifies as another, and
the type bytes keep 1, 1.0, "1" and b"1" apart. Each role has a fixed field table (below), from
which its encoder is compiled (:func:`compile_encoder`).

:func:`encode` is the reference: it encodes any values, dispatching on each value's type. A
compiled encoder makes the same bytes from a field table's types, checks included, and hands any
value that does not fit the table (a null, a count or type the table does not expect) to
:func:`encode`, so the two agree on every input (tested) and a value of an unencodable type
raises :class:`EncodingError` either way.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Callable, NamedTuple, Sequence

from cardsim.merkle import LEAF_PREFIX
from cardsim.records.record import COLUMNS

MAGIC = b"CSIM"
#: The message version byte (2: log format 3, every signature bound to its log and period).
VERSION = 2

# Roles (domain-separation tags)
CARD_TX = 1          # signed by the card: the transaction and what it means (TC/AAC-like)
AUTH_RESPONSE = 2    # signed by the issuer (or the hub in stand-in): its answer to the card's request
RECORD = 3           # hashed (as a Merkle leaf): a log record's content, every column but the chain's two
CHECKPOINT = 4       # signed by the log owner (the hub): a signed tree head (count, chain head, tree root)
CARD_CERT = 5        # signed by the issuer: a card's public key certificate
TERMINAL_CERT = 6    # signed by the merchant: a terminal's public key certificate
GENESIS = 7          # hashed: the run a log belongs to (the chain's first head)
UPLOAD = 8           # signed by a terminal: one upload batch of the records it took
LINK = 9             # hashed: one link of the chain (the head before a record, its record_hash)
BLACKLIST = 10       # signed by an issuer: its loss reports of the run (count and digest)
LOSS_REPORT = 11     # hashed into a BLACKLIST digest: one loss report
MERCHANT_TOTALS = 12 # signed by a merchant: what its terminals uploaded in the run
TERMINAL_TOTAL = 13  # hashed into a MERCHANT_TOTALS digest: one terminal's uploads
CARD_REQUEST = 14    # hashed into an AUTH_RESPONSE: the card's online request (ARQC-like)
CARD_STATE = 15      # signed by the hub: the cards' state when the run ended (count and digest)
CARD_STATE_ROW = 16  # hashed into a CARD_STATE digest: one card's state (a card_state row)

ROLE_NAMES = {CARD_TX: "card_tx", AUTH_RESPONSE: "auth_response", RECORD: "record",
              CHECKPOINT: "checkpoint", CARD_CERT: "card_cert", TERMINAL_CERT: "terminal_cert",
              GENESIS: "genesis", UPLOAD: "upload", LINK: "link", BLACKLIST: "blacklist",
              LOSS_REPORT: "loss_report", MERCHANT_TOTALS: "merchant_totals",
              TERMINAL_TOTAL: "terminal_total", CARD_REQUEST: "card_request",
              CARD_STATE: "card_state", CARD_STATE_ROW: "card_state_row"}

_HEAD = struct.Struct(">4sBBH")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")
_U32 = struct.Struct(">I")


class EncodingError(ValueError):
    pass


_P_TAG_I64 = struct.Struct(">Bq").pack
_P_TAG_F64 = struct.Struct(">Bd").pack
_P_TAG_LEN = struct.Struct(">BI").pack
#: Encoded short texts (terminal ids, channels, outcomes ... repeat in every record). Performance
#: shortcut: a dict lookup instead of encoding and packing; bounded, and the bytes are the same.
_TEXT_CACHE: dict[str, bytes] = {}
_TEXT_CACHE_MAX = 4096


def encode(role: int, values) -> bytes:
    """Encode ``values`` (None, int, float, str, bytes) as a message of ``role``."""
    out = [_HEAD.pack(MAGIC, VERSION, role, len(values))]
    app = out.append
    texts = _TEXT_CACHE
    for v in values:
        t = type(v)                  # exact types: bool is not an integer here
        if t is str:
            e = texts.get(v)
            if e is None:
                b = v.encode("utf-8")
                e = _P_TAG_LEN(3, len(b)) + b
                if len(b) <= 32 and len(texts) < _TEXT_CACHE_MAX:
                    texts[v] = e
            app(e)
        elif t is float:
            app(_P_TAG_F64(2, v))
        elif t is int:
            try:
                app(_P_TAG_I64(1, v))
            except struct.error:
                raise EncodingError(f"integer out of range: {v}") from None
        elif v is None:
            app(b"\x00")
        elif t is bytes:
            app(_P_TAG_LEN(4, len(v)))
            app(v)
        else:
            raise EncodingError(f"cannot encode {t.__name__}")
    return b"".join(out)


def _decode_value(data: bytes, pos: int) -> tuple:
    """One value at ``pos``: (value, position after it)."""
    t = data[pos]
    pos += 1
    if t == 0:
        return None, pos
    if t == 1:
        return _I64.unpack_from(data, pos)[0], pos + 8
    if t == 2:
        return _F64.unpack_from(data, pos)[0], pos + 8
    if t not in (3, 4):
        raise EncodingError(f"unknown type byte {t}")
    (n,) = _U32.unpack_from(data, pos)
    pos += 4
    raw = data[pos:pos + n]
    if len(raw) != n:
        raise EncodingError("truncated value")
    return (raw.decode("utf-8") if t == 3 else bytes(raw)), pos + n


def decode(data: bytes) -> tuple[int, list]:
    """Inverse of :func:`encode`; raises :class:`EncodingError` on anything but a canonical
    message (wrong magic or version, truncated, trailing bytes, unknown type byte)."""
    if len(data) < _HEAD.size:
        raise EncodingError("truncated header")
    magic, version, role, count = _HEAD.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise EncodingError("not a cardsim message of this version")
    pos = _HEAD.size
    values: list = []
    try:
        for _ in range(count):
            value, pos = _decode_value(data, pos)
            values.append(value)
    except (IndexError, struct.error, UnicodeDecodeError) as e:
        raise EncodingError(f"malformed message: {e}") from None
    if pos != len(data):
        raise EncodingError("trailing bytes")
    return role, values


# --- compiled encoders -------------------------------------------------------------------------

class Field(NamedTuple):
    """One field of a message's table: its name, the type its values have (int, float, str or
    bytes; None is always accepted), and for text whether values repeat across messages (their
    encodings are then kept: a performance hint that never changes the bytes)."""

    name: str
    type: type
    repeats: bool = True


class _Unexpected(Exception):
    """A value the compiled encoder's table does not expect: :func:`encode` takes over."""


def _unexpected():
    raise _Unexpected


def _cached_text(v: str) -> bytes:
    """The encoding of a text, kept in ``_TEXT_CACHE`` when short (as :func:`encode` does)."""
    b = v.encode("utf-8")
    e = _P_TAG_LEN(3, len(b)) + b
    if len(b) <= 32 and len(_TEXT_CACHE) < _TEXT_CACHE_MAX:
        _TEXT_CACHE[v] = e
    return e


def _piece(i: int, field: Field) -> str:
    """The source of one value's encoding: exact type check, the type's bytes, else null or
    :func:`encode`."""
    v = f"v{i}"
    if field.type is int:
        fast = f"_i64(1, {v})"
    elif field.type is float:
        fast = f"_f64(2, {v})"
    elif field.type is bytes:
        fast = f"_len(4, len({v})) + {v}"
    elif field.repeats:
        fast = f"(_text_get({v}) or _cached_text({v}))"
    else:
        fast = f"_len(3, len(_b := {v}.encode('utf-8'))) + _b"
    other = f"(b'\\x00' if {v} is None else _unexpected())"
    return f"({fast} if type({v}) is {field.type.__name__} else {other})"


def compile_encoder(role: int, fields: Sequence[Field]) -> Callable[[Sequence], bytes]:
    """An encoder of ``role`` messages for values in the order of ``fields``: ``encode(role,
    values)``, byte for byte, generated from the table.

    Performance shortcut: the generated function encodes each value with the one struct call its
    field's type needs instead of a type dispatch per value; it is about a third faster than
    :func:`encode` on a record (measured in the commit that added it).
    """
    n = len(fields)
    names = "".join(f"v{i}, " for i in range(n))
    pieces = ", ".join(_piece(i, f) for i, f in enumerate(fields))
    source = (f"def encode_{ROLE_NAMES.get(role, role)}(values):\n"
              f"    if len(values) != {n}:\n"
              f"        return encode({role}, values)\n"
              f"    {names}= values\n"
              f"    try:\n"
              f"        return b''.join((_head, {pieces}))\n"
              f"    except (_Unexpected, struct.error):\n"
              f"        return encode({role}, values)\n")
    namespace = {"_head": _HEAD.pack(MAGIC, VERSION, role, n), "_i64": _P_TAG_I64,
                 "_f64": _P_TAG_F64, "_len": _P_TAG_LEN, "_text_get": _TEXT_CACHE.get,
                 "_cached_text": _cached_text, "_unexpected": _unexpected,
                 "_Unexpected": _Unexpected, "encode": encode, "struct": struct,
                 "type": type, "int": int, "float": float, "str": str, "bytes": bytes}
    exec(source, namespace)   # noqa: S102 - source built above from the field table only
    return namespace[f"encode_{ROLE_NAMES.get(role, role)}"]


# --- the messages ------------------------------------------------------------------------------

_SQL_TYPE = {"INTEGER": int, "REAL": float, "TEXT": str, "BLOB": bytes}
#: Record columns whose values rarely repeat (a performance hint for the text cache).
_UNIQUE_COLUMNS = {"tx_id", "card_id"}
#: The fields of each role, in order.
#: The card's request: the transaction as the card sees it when asked (the calendar start
#: ``epoch`` and ``sim_time`` are the card's clock: epoch + sim_time, like EMV 9A/9F21).
_REQUEST = (Field("card_id", str, False), Field("atc", int), Field("amount_fen", int),
            Field("terminal_id", str), Field("unpredictable_number", int), Field("epoch", int),
            Field("sim_time", float), Field("channel", str), Field("service", str),
            Field("mode", str))
LAYOUTS: dict[int, tuple[Field, ...]] = {
    CARD_TX: _REQUEST + (Field("outcome", str), Field("reason", str), Field("authoriser", str),
                         Field("balance_fen", int), Field("response_hash", bytes)),
    AUTH_RESPONSE: (Field("signer", str), Field("outcome", str), Field("reason", str),
                    Field("authoriser", str), Field("decided_at", float),
                    Field("request_hash", bytes)),
    RECORD: tuple(Field(name, _SQL_TYPE[sql], name not in _UNIQUE_COLUMNS)
                  for name, sql, _ in COLUMNS if name not in ("prev_hash", "record_hash")),
    CHECKPOINT: (Field("log_id", bytes), Field("count", int), Field("head", bytes),
                 Field("root", bytes), Field("sim_time", float), Field("final", int)),
    CARD_CERT: (Field("card_id", str, False), Field("province", str), Field("algorithm", str),
                Field("public_key", bytes), Field("not_before", int), Field("not_after", int),
                Field("issuer_id", str)),
    TERMINAL_CERT: (Field("terminal_id", str), Field("merchant_id", str), Field("algorithm", str),
                    Field("public_key", bytes), Field("not_before", int), Field("not_after", int)),
    GENESIS: (Field("format", str), Field("config_json", str, False), Field("seed", int),
              Field("previous", bytes)),
    UPLOAD: (Field("log_id", bytes), Field("terminal_id", str), Field("merchant_id", str),
             Field("number", int), Field("uploaded_at", float), Field("count", int),
             Field("records_digest", bytes)),
    LINK: (Field("head", bytes), Field("record_hash", bytes)),
    BLACKLIST: (Field("log_id", bytes), Field("period_end", float), Field("issuer_id", str),
                Field("province", str), Field("count", int), Field("reports_digest", bytes)),
    LOSS_REPORT: (Field("card_id", str, False), Field("reported_at", float)),
    MERCHANT_TOTALS: (Field("log_id", bytes), Field("period_end", float),
                      Field("merchant_id", str), Field("terminals", int), Field("uploads", int),
                      Field("records", int), Field("terminals_digest", bytes)),
    TERMINAL_TOTAL: (Field("terminal_id", str), Field("uploads", int), Field("records", int)),
    CARD_REQUEST: _REQUEST,
    CARD_STATE: (Field("log_id", bytes), Field("period_end", float), Field("count", int),
                 Field("states_digest", bytes)),
    CARD_STATE_ROW: (Field("card_id", str, False), Field("atc", int), Field("balance_fen", int),
                     Field("quota_left", int), Field("quota_year", int),
                     Field("quota_extensions_left", int)),
}
#: The fields of a card's request and of what it signs, in order (``epoch`` and
#: ``response_hash`` are not record columns: the run's calendar start, and SHA-256 of the
#: auth_response message of an online answer, else null).
CARD_REQUEST_FIELDS: tuple[str, ...] = tuple(f.name for f in LAYOUTS[CARD_REQUEST])
CARD_TX_FIELDS: tuple[str, ...] = tuple(f.name for f in LAYOUTS[CARD_TX])
#: The compiled encoder of each role: ``ENCODERS[role](values) == encode(role, values)``.
ENCODERS: dict[int, Callable[[Sequence], bytes]] = {
    role: compile_encoder(role, fields) for role, fields in LAYOUTS.items()}
_card_tx = ENCODERS[CARD_TX]
_auth_response = ENCODERS[AUTH_RESPONSE]
_record = ENCODERS[RECORD]
_checkpoint = ENCODERS[CHECKPOINT]
_card_cert = ENCODERS[CARD_CERT]
_terminal_cert = ENCODERS[TERMINAL_CERT]
_upload = ENCODERS[UPLOAD]
_link = ENCODERS[LINK]
_blacklist = ENCODERS[BLACKLIST]
_loss_report = ENCODERS[LOSS_REPORT]
_merchant_totals = ENCODERS[MERCHANT_TOTALS]
_terminal_total = ENCODERS[TERMINAL_TOTAL]
_card_state = ENCODERS[CARD_STATE]
_card_state_row = ENCODERS[CARD_STATE_ROW]
_genesis = ENCODERS[GENESIS]
_card_request = ENCODERS[CARD_REQUEST]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def card_request_message(card_id, atc, amount_fen, terminal_id, un, epoch, sim_time, channel,
                         service, mode) -> bytes:
    """The card's online request (ARQC-like): hashed into the issuer's auth_response."""
    return _card_request((card_id, atc, amount_fen, terminal_id, un, epoch, sim_time, channel,
                          service, mode))


def card_tx_message(request: tuple, outcome, reason, authoriser, balance_fen,
                    response_hash: bytes | None) -> bytes:
    """What the card signs (TC for an approval, AAC for a decline): its request's fields
    (``CARD_REQUEST_FIELDS`` order), the outcome and who took it, the stored value after, and
    for an online answer the SHA-256 of the auth_response message (ARPC-like), else null."""
    return _card_tx((*request, outcome, reason, authoriser, balance_fen, response_hash))


def auth_response_message(signer, outcome, reason, authoriser, decided_at,
                          request_hash: bytes) -> bytes:
    """The issuer's (stand-in: the hub's) answer, bound to the card's request by its hash."""
    return _auth_response((signer, outcome, reason, authoriser, decided_at, request_hash))


def record_message(values) -> bytes:
    """A record's content: every column but ``prev_hash`` and ``record_hash``, in table order
    (``seq`` included): the record's leaf in the log's Merkle tree."""
    return _record(values)


def record_hash(values) -> bytes:
    """A record's ``record_hash``: its Merkle leaf hash, SHA-256(0x00 || record message)
    (``cardsim.merkle.leaf_hash`` of :func:`record_message`)."""
    return hashlib.sha256(LEAF_PREFIX + _record(values)).digest()


# Performance shortcut: a link message is encode(LINK, (head, record_hash)) with two 32-byte blobs,
# so it is built by concatenation (the equality is tested).
_LINK_HEAD = _HEAD.pack(MAGIC, VERSION, LINK, 2) + b"\x04" + _U32.pack(32)
_LINK_MID = b"\x04" + _U32.pack(32)


def link(head: bytes, record_hash: bytes) -> bytes:
    """The chain head after a record: SHA-256 of the link message (the head before it, its hash)."""
    if len(head) != 32 or len(record_hash) != 32:
        return hashlib.sha256(_link((head, record_hash))).digest()
    return hashlib.sha256(_LINK_HEAD + head + _LINK_MID + record_hash).digest()


def checkpoint_message(log_id: bytes, count: int, head: bytes, root: bytes, sim_time: float,
                       final: int) -> bytes:
    """A signed tree head: the log ``log_id`` holds ``count`` records, its hash chain's head after
    them is ``head`` and the Merkle tree of their record hashes has ``root``, at simulated second
    ``sim_time``; ``final`` (1) when the run ended there."""
    return _checkpoint((log_id, count, head, root, sim_time, final))


def card_cert_body(card_id, province, algorithm, public_key, not_before, not_after, issuer_id) -> bytes:
    return _card_cert((card_id, province, algorithm, public_key, not_before, not_after, issuer_id))


def terminal_cert_body(terminal_id, merchant_id, algorithm, public_key, not_before, not_after) -> bytes:
    return _terminal_cert((terminal_id, merchant_id, algorithm, public_key, not_before, not_after))


def upload_message(log_id: bytes, terminal_id, merchant_id, number, uploaded_at, count,
                   records_digest: bytes) -> bytes:
    """A terminal's upload to the log ``log_id``: ``number`` counts the terminal's uploads (1,
    2, ...) in the run; its period is ``uploaded_at``."""
    return _upload((log_id, terminal_id, merchant_id, number, uploaded_at, count, records_digest))


def terminals_digest(totals) -> bytes:
    """SHA-256 over the terminal_total messages of (terminal_id, uploads, records), sorted."""
    h = hashlib.sha256()
    for t in sorted(totals):
        h.update(_terminal_total(t))
    return h.digest()


def merchant_totals_message(log_id: bytes, period_end: float, merchant_id, terminals, uploads,
                            records, digest: bytes) -> bytes:
    """A merchant's totals for the log ``log_id`` over simulated seconds [0, period_end]."""
    return _merchant_totals((log_id, period_end, merchant_id, terminals, uploads, records, digest))


def records_digest(record_hashes) -> bytes:
    """SHA-256 over the concatenated ``record_hash`` values of an upload's records, in seq order."""
    h = hashlib.sha256()
    for rh in record_hashes:
        h.update(rh)
    return h.digest()


def loss_reports_digest(reports) -> bytes:
    """SHA-256 over the loss_report messages of (card_id, reported_at) pairs, sorted by card_id."""
    h = hashlib.sha256()
    for card_id, reported_at in sorted(reports):
        h.update(_loss_report((card_id, reported_at)))
    return h.digest()


def card_states_digest(rows) -> bytes:
    """SHA-256 over the card_state_row messages of ``card_state`` rows, sorted by card number."""
    h = hashlib.sha256()
    for row in sorted(rows):
        h.update(_card_state_row(row))
    return h.digest()


def card_state_message(log_id: bytes, period_end: float, count, states_digest: bytes) -> bytes:
    """The hub's word on the cards' state when the log ``log_id`` ended (at ``period_end``
    simulated seconds): what a log that follows it starts from."""
    return _card_state((log_id, period_end, count, states_digest))


def blacklist_message(log_id: bytes, period_end: float, issuer_id, province, count,
                      reports_digest: bytes) -> bytes:
    """An issuer's loss reports for the log ``log_id`` over simulated seconds [0, period_end]."""
    return _blacklist((log_id, period_end, issuer_id, province, count, reports_digest))


#: Version of the log format, part of the genesis message (2: terminal uploads, signed
#: blacklists; 3: every signature bound to its log and period, the card signs the outcome;
#: 4: record hashes are Merkle leaf hashes, checkpoints are signed tree heads, a log may follow
#: another; 5: a card's carried state keeps its senior quota's year and extensions left).
LOG_FORMAT = "cardsim-log/5"


def genesis_hash(config_json: str, seed: int, previous: bytes | None = None) -> bytes:
    """The ``prev_hash`` of record 1 and the log's id: binds the chain to the run's scenario and,
    for a log that follows another (linked days), to ``previous``: the SHA-256 of the previous
    log's final signed tree head (its checkpoint message)."""
    return sha256(_genesis((LOG_FORMAT, config_json, seed, previous)))

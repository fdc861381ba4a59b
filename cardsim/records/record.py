"""The transaction record: its columns, their SQL types, and the codes they may hold.

This is the one place the record's shape is defined. The model builds rows as plain tuples in
``COLUMNS`` order (the hot path); readers get :data:`Record` named tuples.
"""

from __future__ import annotations

from collections import namedtuple
from operator import itemgetter
from typing import Any, Callable

#: (name, SQL type, meaning). Order is the tuple order the model emits and the table's column order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("seq", "INTEGER", "1, 2, 3 ... in log order, without gaps"),
    ("tx_id", "TEXT", "unique transaction id"),
    ("sim_time", "REAL", "simulated seconds from scenario start when the terminal decided"),
    ("arrival_time", "REAL", "simulated seconds when the customer joined the service point's queue"),
    ("wait_s", "REAL", "queueing time before reaching a terminal (sim_time - arrival_time for offline taps)"),
    ("channel", "TEXT", "transit | tourism | government"),
    ("service", "TEXT", "metro | bus | scenic_gate | the government service item"),
    ("card_id", "TEXT", "12-digit card number; the first two digits are the issuing province (51 Sichuan, 50 Chongqing)"),
    ("card_province", "TEXT", "the card's issuing province: sichuan | chongqing"),
    ("category", "TEXT", "holder category: adult | senior | student"),
    ("terminal_id", "TEXT", "terminal (gate, validator, window) that took the card"),
    ("terminal_province", "TEXT", "province of the terminal"),
    ("merchant_id", "TEXT", "merchant/acquirer operating the terminal"),
    ("issuer_id", "TEXT", "the card's home issuer"),
    ("amount_fen", "INTEGER", "amount requested, integer fen (charged only when approved)"),
    ("concession", "TEXT", "fare concession applied: student | senior (discount) | senior_quota | senior_free | transfer | cardholder | null"),
    ("atc", "INTEGER", "the card's application transaction counter for this transaction"),
    ("mode", "TEXT", "offline (terminal decides) | online (authorised by the issuer or stand-in)"),
    ("outcome", "TEXT", "approved | declined"),
    ("reason", "TEXT", "decline reason code (null when approved)"),
    ("authoriser", "TEXT", "who decided: terminal | issuer | standin"),
    ("auth_latency_s", "REAL", "online: seconds from request to answer at the terminal; null offline"),
    ("balance_fen", "INTEGER", "offline: the card's stored value after the transaction; null online"),
    ("uploaded_at", "REAL", "simulated seconds when the merchant uploaded the record to the back office"),
    ("trip_km", "REAL", "metro: the trip length that set the distance-banded fare; null otherwise"),
    ("decided_at", "REAL", "simulated seconds when the deciding node decided (offline and time-outs: sim_time)"),
)
#: Columns added for signed logs (issue: signed records), after the model's columns. The model
#: emits ``unpredictable_number``; signers add the signatures; the writer adds the chain.
SIGNED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("unpredictable_number", "INTEGER", "the terminal's 32-bit unpredictable number, signed by the card"),
    ("card_sig", "BLOB", "the card's signature over the card_tx message (null in --no-sign logs)"),
    ("issuer_sig", "BLOB", "online: the issuer's (stand-in: the hub's) signature over its auth_response; null offline"),
    ("prev_hash", "BLOB", "the chain head before this record (record 1: the log's genesis hash)"),
    ("record_hash", "BLOB", "Merkle leaf hash of the record message (every column but prev_hash and record_hash): SHA-256(0x00 || message)"),
)
COLUMNS = COLUMNS + SIGNED_COLUMNS
COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in COLUMNS)
INDEX = {name: i for i, name in enumerate(COLUMN_NAMES)}

# Outcomes, modes, authorisers
APPROVED, DECLINED = "approved", "declined"
OFFLINE, ONLINE = "offline", "online"
TERMINAL, ISSUER, STANDIN = "terminal", "issuer", "standin"

#: Decline reasons, each decided in the module named.
REASONS = {
    "insufficient_balance": "offline: the stored value does not cover the fare (merchant)",
    "blacklisted": "the card is on the blacklist the terminal or hub holds (merchant, hub stand-in)",
    "card_lost": "online: the issuer knows the card was reported lost (issuer)",
    "atc_replay": "online: the ATC is not above the last one the issuer saw (issuer)",
    "atc_jump": "online: the ATC jumped further than the issuer allows (issuer)",
    "issuer_unavailable": "the issuer is in an outage and the stand-in rule declines (issuer stand-in policy)",
    "standin_limit": "the issuer is in an outage and the amount is above the stand-in limit (issuer stand-in policy)",
    "issuer_timeout": "the terminal gave up waiting for the authorisation (terminal)",
    # decided only in replay, where the merchant node checks what the log presents
    "bad_card_signature": "replay: the card's signature does not verify (merchant)",
    "malformed_record": "replay: a field the nodes read is missing or malformed, e.g. in an edited log (merchant)",
    "bad_card_certificate": "replay: the card's certificate is missing, malformed or forged (merchant)",
    "card_expired": "replay: the card's certificate was not valid at the time (merchant)",
}


#: One logged transaction: a named tuple in ``COLUMN_NAMES`` order, generated from ``COLUMNS``. A
#: tuple, so it keeps tuple speed for ``executemany``, hashing and pickling; read fields by name
#: (``rec.card_id``). Adding a column is one edit, in ``COLUMNS`` or ``SIGNED_COLUMNS``.
Record = namedtuple("Record", COLUMN_NAMES)
#: What the model emits, before signing: the model's columns and the unpredictable number.
MODEL_COLUMN_NAMES: tuple[str, ...] = COLUMN_NAMES[: COLUMN_NAMES.index("card_sig")]


def columns_getter(*names: str) -> Callable[[tuple], Any]:
    """A reader of the named columns of a row tuple in ``COLUMN_NAMES`` order (a model row, a
    signed row or a :data:`Record`): one value for one name, else a tuple in ``names`` order.

    For the per-record loops of signing, chaining and uploads, whose rows travel between
    processes as plain tuples: an ``operator.itemgetter`` built once from the names. Measured per
    row (3 columns): 61 ns, against 49 ns for ``row[i]`` and 316 ns for building a named tuple to
    read; and a named tuple's pickle round trip costs 1.7 times a tuple's.
    """
    return itemgetter(*(INDEX[n] for n in names))


def tx_id_for(seq: int) -> str:
    return f"T{seq:010d}"


def issuer_id_for(province: str) -> str:
    return f"issuer-{province}"


def merchant_id_for(province: str, service_type: str) -> str:
    """The merchant operating one service point type in one province, e.g. ``sichuan-scenic-gate``."""
    return f"{province}-{service_type.replace('_', '-')}"

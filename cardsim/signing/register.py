"""The issuers' card register: the public half of every card issued so far, kept so that a card is
issued once, not once per log.

A card's public key and certificate depend only on its issuer's key, its number and its validity,
so they are the same in every log that uses the card. Making them costs about two signatures (the
public key is a scalar multiplication, the certificate an issuer signature), and a run pays that
for every card it uses: a fifth of the transactions of the default weekday bring a card new to the
log. Real issuers issue a card once and keep a register of it; cardsim keeps ``cards.db`` in the
keys directory: per issuer key (its fingerprint) and card number, the card's public key, and per
validity period the issuer's certificate signature.

Nothing in it is secret: the same values are in every log that uses the card. Deleting it costs
only speed, and every log is the same byte for byte with or without it (tested). An entry is
trusted like the keys directory that holds it: a wrong public key would make the card's
signatures fail verification, never pass a forgery. The register is a cache: when it cannot be
read or written (a read-only keys directory, say) the run goes on without it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

FILE = "cards.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    issuer_key TEXT NOT NULL,      -- SHA-256 (hex, 16 digits) of the issuer's public key
    card_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    cert_signature BLOB NOT NULL,  -- the issuer's signature over the card_cert message
    PRIMARY KEY (issuer_key, card_id, not_before, not_after)
) WITHOUT ROWID
"""


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


class CardRegister:
    """Look-ups and additions for one signing process; additions are saved by :meth:`save`."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / FILE
        self.new: list[tuple] = []
        try:
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(_SCHEMA)
            self.conn.commit()
        except sqlite3.Error:
            self.conn = None

    def lookup(self, issuer_key: str, card_ids) -> dict[str, list[tuple]]:
        """card id -> [(public key, not_before, not_after, certificate signature)] for the cards
        of ``card_ids`` the register holds. Performance shortcut: one query per call (each query
        is a read transaction of its own), so callers ask for a batch's new cards at once."""
        out: dict[str, list[tuple]] = {}
        if self.conn is None:
            return out
        ids = list(card_ids)
        try:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                q = ("SELECT card_id, public_key, not_before, not_after, cert_signature FROM cards "
                     f"WHERE issuer_key = ? AND card_id IN ({','.join('?' * len(part))})")
                for cid, *rest in self.conn.execute(q, (issuer_key, *part)):
                    out.setdefault(cid, []).append(tuple(rest))
        except sqlite3.Error:
            self.conn = None
            return {}
        return out

    def add(self, issuer_key: str, card_id: str, public_key: bytes, not_before: int,
            not_after: int, signature: bytes) -> None:
        if self.conn is not None:
            self.new.append((issuer_key, card_id, public_key, not_before, not_after, signature))

    def save(self) -> None:
        """Write the cards issued by this process (one transaction), then close."""
        if self.conn is None:
            return
        try:
            with self.conn:
                self.conn.executemany("INSERT OR IGNORE INTO cards VALUES (?,?,?,?,?,?)", self.new)
            self.new = []
        except sqlite3.Error:
            pass
        finally:
            self.conn.close()
            self.conn = None

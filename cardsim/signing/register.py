"""The issuers' card register: the certificate signature of every card issued so far, kept so that
a card is certified once, not once per log.

A card's certificate depends only on its issuer's key, its number, its public key and its
validity, so it is the same in every log that uses the card. Certifying costs an issuer signature,
and a run pays that for every card it uses: a fifth of the transactions of the default weekday
bring a card new to the log. Real issuers issue a card once and keep a register of it; cardsim
keeps ``cards.db`` in the keys directory: per issuer key (its fingerprint), card number and
validity period, the card's public key, the issuer's certificate signature and a tag.

The register is input an attacker may have written (anyone who can write the keys directory but
not read the private keys). What it can and cannot do:

- It never supplies a key. The card's public key is always derived from its seed
  (``keys.DerivedKeys``); an entry whose public key differs from the derived one is an error, so
  a poisoned entry can neither make an issuer certify a foreign key nor make a card sign with a
  wrong public key (which, with Ed25519, would reveal the card's private key).
- Each entry carries a tag, HMAC-SHA256 under a key derived from its issuer's private key
  (:func:`entry_tag`), over everything else in the entry. An entry whose tag does not hold (a
  forged or swapped certificate signature, say) is an error naming the file: the run stops rather
  than write a log whose certificates would fail verification. Only an issuer key holder can
  make a valid entry, and that holder can certify any key anyway.
- It is a cache: a file that is not a register of this version (another schema, another
  ``user_version``, not SQLite at all) is ignored and the run goes on without it, as when the
  keys directory is read-only. It must be a regular file and neither it nor its ``-wal``,
  ``-shm`` or ``-journal`` companions may be a symbolic link (an error, never followed).
- Nothing in it is secret: the same values are in every log that uses the card (the tag reveals
  nothing of the key it is made with). Deleting it costs only speed, and every log is the same
  byte for byte with or without it (tested).
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from pathlib import Path
from typing import NamedTuple

from cardsim.errors import CardsimError
from cardsim.files import check_regular_file, file_uri, open_regular, refuse_link

FILE = "cards.db"
#: ``PRAGMA user_version`` of a register of this format (1 was the untagged register).
VERSION = 2
#: Largest value a register may hold (public keys and signatures are 32 to 64 bytes).
MAX_VALUE_BYTES = 4096

_SCHEMA = """CREATE TABLE cards (
    issuer_key TEXT NOT NULL,      -- SHA-256 (hex, 16 digits) of the issuer's public key
    card_id TEXT NOT NULL,
    public_key BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    cert_signature BLOB NOT NULL,  -- the issuer's signature over the card_cert message
    tag BLOB NOT NULL,             -- entry_tag() under the issuer's register key
    PRIMARY KEY (issuer_key, card_id, not_before, not_after)
) WITHOUT ROWID"""


class Entry(NamedTuple):
    """One card's certificate for one validity period, as the register holds it."""

    public_key: bytes
    not_before: int
    not_after: int
    cert_signature: bytes
    tag: bytes


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def entry_tag(key: bytes, issuer_key: str, card_id: str, public_key: bytes, not_before: int,
              not_after: int, signature: bytes) -> bytes:
    """HMAC-SHA256 under the issuer's register ``key`` over every other field of an entry, each
    length-prefixed so that no two entries share an input."""
    parts = [issuer_key.encode(), card_id.encode(), public_key, str(not_before).encode(),
             str(not_after).encode(), signature]
    msg = b"cardsim/card-register/v2" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hmac.digest(key, msg, "sha256")


class CardRegister:
    """Look-ups and additions for one signing process; additions are saved by :meth:`save`."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / FILE
        self.new: list[tuple] = []
        self.conn = self._open()

    def _open(self) -> sqlite3.Connection | None:
        """A connection to the register, or None when it is not usable as one (a cache);
        an error when a link is planted or the file is not a regular file."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            refuse_link(f"{self.path}{suffix}", "card register")
        if self.path.exists():
            check_regular_file(self.path, "card register")
        try:
            open_regular(self.path, 0o644, "card register")
        except CardsimError:
            return None       # cannot create or write it (a read-only keys directory, say)
        try:
            conn = sqlite3.connect(file_uri(self.path, "rw", nofollow=True), uri=True, timeout=30)
        except sqlite3.Error:
            return None
        try:
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            conn.execute("PRAGMA trusted_schema=OFF")
            if _prepare(conn):
                return conn
        except sqlite3.Error:
            pass
        conn.close()
        return None

    def lookup(self, issuer_key: str, card_ids) -> dict[str, list[Entry]]:
        """card id -> its :class:`Entry` list for the cards of ``card_ids`` the register holds.
        Performance shortcut: one query per call (each query is a read transaction of its own),
        so callers ask for a batch's new cards at once. The caller checks each entry it uses
        (:func:`check_entry`)."""
        out: dict[str, list[Entry]] = {}
        if self.conn is None:
            return out
        ids = list(card_ids)
        try:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                q = ("SELECT card_id, public_key, not_before, not_after, cert_signature, tag "
                     f"FROM cards WHERE issuer_key = ? AND card_id IN ({','.join('?' * len(part))})")
                for cid, *rest in self.conn.execute(q, (issuer_key, *part)):
                    out.setdefault(cid, []).append(Entry(*rest))
        except sqlite3.Error:
            self.conn = None
            return {}
        return out

    def add(self, issuer_key: str, card_id: str, public_key: bytes, not_before: int,
            not_after: int, signature: bytes, tag: bytes) -> None:
        if self.conn is not None:
            self.new.append((issuer_key, card_id, public_key, not_before, not_after, signature, tag))

    def save(self) -> None:
        """Write the cards issued by this process (one transaction), then close."""
        if self.conn is None:
            return
        try:
            with self.conn:
                self.conn.executemany("INSERT OR IGNORE INTO cards VALUES (?,?,?,?,?,?,?)", self.new)
            self.new = []
        except sqlite3.Error:
            pass
        finally:
            self.conn.close()
            self.conn = None


def check_entry(path: Path, key: bytes, issuer_key: str, card_id: str, derived_public: bytes,
                entry: Entry) -> bytes:
    """The certificate signature of ``entry`` once it holds: its public key is the one derived
    from the card's seed and its tag is the issuer's; otherwise a :class:`CardsimError` (the
    register was written by someone without the issuer's key)."""
    if not isinstance(entry.public_key, bytes) or not hmac.compare_digest(entry.public_key,
                                                                          derived_public):
        raise CardsimError(f"{path}: card {card_id}: the registered public key is not the card's "
                           "derived key (the register was tampered with; delete it)")
    want = entry_tag(key, issuer_key, card_id, derived_public, entry.not_before, entry.not_after,
                     entry.cert_signature if isinstance(entry.cert_signature, bytes) else b"")
    if not isinstance(entry.tag, bytes) or not hmac.compare_digest(entry.tag, want):
        raise CardsimError(f"{path}: card {card_id}: the entry's tag does not hold under its "
                           "issuer's key (the register was tampered with; delete it)")
    return entry.cert_signature


_EXPECTED: list[tuple] | None = None


def _expected_schema() -> list[tuple]:
    """The schema entries of an empty register of this version (computed once per process)."""
    global _EXPECTED
    if _EXPECTED is None:
        mem = sqlite3.connect(":memory:")
        mem.execute(_SCHEMA)
        _EXPECTED = _schema(mem)
        mem.close()
    return _EXPECTED


def _schema(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name").fetchall()


def _prepare(conn: sqlite3.Connection) -> bool:
    """Create the table in an empty file; True when the file is a register of this version and
    nothing else (no view, trigger or other table a query could be redirected through)."""
    conn.isolation_level = None
    conn.execute("BEGIN IMMEDIATE")       # one process creates the table, the others then see it
    try:
        found = _schema(conn)
        if not found:
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {VERSION}")
            found = _schema(conn)
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
        raise
    conn.isolation_level = ""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if found != _expected_schema() or version != VERSION:
        return False
    conn.execute("PRAGMA journal_mode=WAL")
    return True

"""A log file is untrusted input: open exactly the named file, read-only, and check that the SQLite
container is the log format before any check reads a byte of its content.

First the file itself: SQLite's header, and a size in whole pages of the size the header
declares (SQLite writes whole pages; a cut or padded file may otherwise still read as sound when
the write-ahead log holds the cut page). What "the format" is comes from one place,
:func:`create_tables` (the writer calls it too): the expected schema is what that function
creates in an empty in-memory database, compared entry by entry with the file's
``sqlite_schema`` (type, name, table and the full ``CREATE`` text, so column names, their order,
declared types, constraints and generated columns are all covered). No view,
trigger or index the format does not create is accepted, so no query of ours can be redirected or
made to run code. Then ``PRAGMA integrity_check`` (a table and its indexes agree, every page is
sound), the one ``runs`` row with ``run_id`` 1, and the bounds below.

Bounds (documented in docs/log-format.md, "Reading a log"):

- any one value (text or blob) at most :data:`MAX_VALUE_BYTES` (SQLite's length limit on the
  connection: a larger value is an error when read, never an allocation: exit 2 when the container
  checks meet it, a finding on each record that needs it otherwise);
- the JSON texts of ``runs`` nested at most :data:`MAX_JSON_DEPTH` deep;
- at most :data:`MAX_ROWS` rows in ``transactions`` and :data:`MAX_SIDE_ROWS` in any other table.

Connections are opened with ``mode=ro``, ``query_only`` and ``trusted_schema=OFF``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Callable

from cardsim.errors import CardsimError, one_line
from cardsim.files import check_regular_file, file_uri

SQLITE_MAGIC = b"SQLite format 3\x00"
#: Largest text or blob a log may hold (the scenario's text and the run's summary are the largest
#: legitimate values: tens of kilobytes).
MAX_VALUE_BYTES = 8 * 1024 * 1024
#: Deepest nesting of the JSON texts in ``runs`` (a scenario is four levels deep).
MAX_JSON_DEPTH = 32
#: Most transactions in one log (a day of both provinces at full scale is about 24 million).
MAX_ROWS = 200_000_000
#: Most rows of any other table (certificates, uploads, ...).
MAX_SIDE_ROWS = 50_000_000
#: Tables a log may hold besides the format's own: the attack harness's ground truth.
OPTIONAL_TABLES = ("ground_truth",)
#: The runs row's documented id.
RUN_ID = 1
_JSON_COLUMNS = ("config_json", "sets_json", "summary_json")


class ContainerError(CardsimError):
    """The file is not a cardsim log container (exit 2)."""


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to exactly ``path``, with the limits above set before any read."""
    check_regular_file(path, "log file")
    try:
        with open(path, "rb", buffering=0) as f:
            head = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise CardsimError(f"{path}: cannot read: {e.strerror}") from None
    if head[:len(SQLITE_MAGIC)] != SQLITE_MAGIC:
        raise ContainerError(f"{path}: not an SQLite database")
    page = int.from_bytes(head[16:18], "big") if len(head) >= 18 else 0
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or size % page:
        # SQLite writes a database file in whole pages: anything else was cut or padded by
        # someone else (and SQLite, reading pages from the write-ahead log, might not notice)
        raise ContainerError(f"{path}: damaged SQLite file: {size} bytes is not a whole number "
                             f"of its {page}-byte pages")
    try:
        conn = sqlite3.connect(file_uri(path), uri=True)
    except sqlite3.Error as e:
        raise ContainerError(f"{path}: cannot open: {one_line(e)}") from None
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA query_only=ON")
    return conn


def schema_of(conn: sqlite3.Connection) -> dict[str, tuple]:
    """name -> (type, table, sql) of every schema entry."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema").fetchall()
    return {name: (kind, table, sql) for kind, name, table, sql in rows}


_EXPECTED: dict[Callable, dict[str, tuple]] = {}


def expected_schema(create_tables: Callable[[sqlite3.Connection], None]) -> dict[str, tuple]:
    """The schema ``create_tables`` makes in an empty database (computed once per process)."""
    got = _EXPECTED.get(create_tables)
    if got is None:
        mem = sqlite3.connect(":memory:")
        try:
            create_tables(mem)
            got = _EXPECTED[create_tables] = schema_of(mem)
        finally:
            mem.close()
    return got


def check_schema(conn: sqlite3.Connection, path, expected: dict[str, tuple],
                 optional: dict[str, tuple] = {}) -> None:
    """Every schema entry is the format's; every table of the format is there."""
    found = schema_of(conn)
    for name, entry in sorted(found.items()):
        want = expected.get(name) or optional.get(name)
        if want is None:
            raise ContainerError(f"{path}: not a cardsim log: unexpected {entry[0]} {name!r} in "
                                 "the schema (expected only the log format's tables and indexes)")
        if entry != want:
            raise ContainerError(f"{path}: not a cardsim log: {entry[0]} {name!r} differs from the "
                                 "log format's (columns, their order, types or constraints)")
    missing = sorted(set(expected) - set(found))
    if missing:
        raise ContainerError(f"{path}: not a cardsim log: no {expected[missing[0]][0]} {missing[0]!r}")


def check_integrity(conn: sqlite3.Connection, path) -> None:
    """SQLite's own check of every page, table and index (indexes agree with their tables)."""
    rows = conn.execute("PRAGMA integrity_check(1)").fetchall()
    if rows != [("ok",)]:
        raise ContainerError(f"{path}: damaged SQLite file: {one_line(rows[0][0])[:200]}")


def check_counts(conn: sqlite3.Connection, path, tables) -> None:
    """At most one ``runs`` row, with the documented id; no table over its row cap."""
    runs = conn.execute("SELECT run_id FROM runs LIMIT 2").fetchall()
    if runs != [(RUN_ID,)]:
        raise ContainerError(f"{path}: not a cardsim log: expected exactly one runs row with "
                             f"run_id {RUN_ID}, found {len(runs) if len(runs) < 2 else 'several'}"
                             f"{'' if len(runs) != 1 else f' with run_id {runs[0][0]!r}'}")
    for table in tables:
        cap = MAX_ROWS if table == "transactions" else MAX_SIDE_ROWS
        # the rowid bounds cost one index probe each; count(*) would scan the table
        low, top = conn.execute(f'SELECT min(rowid), max(rowid) FROM "{table}"').fetchone()
        if (low or 1) < 1 or (top or 0) > cap:
            raise ContainerError(f"{path}: table {table}: row ids run from {low} to {top}, outside "
                                 f"1..{cap:,} (the format's cap on its rows)")


def check_json_texts(conn: sqlite3.Connection, path) -> None:
    """The runs row's JSON texts are nested at most :data:`MAX_JSON_DEPTH` deep."""
    cols = ", ".join(_JSON_COLUMNS)
    row = conn.execute(f"SELECT {cols} FROM runs WHERE run_id = ?", (RUN_ID,)).fetchone()
    for name, text in zip(_JSON_COLUMNS, row):
        if isinstance(text, str) and json_depth(text) > MAX_JSON_DEPTH:
            raise ContainerError(f"{path}: runs.{name}: JSON nested deeper than {MAX_JSON_DEPTH} levels")


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in a JSON text, outside strings (linear, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


def open_container(path: str | Path, create_tables: Callable[[sqlite3.Connection], None],
                   optional: dict[str, tuple] = {}) -> sqlite3.Connection:
    """Open ``path`` read-only and check the container (see the module documentation); a
    :class:`ContainerError` (one line, naming the file) when it is not the format."""
    conn = connect_readonly(path)
    try:
        expected = expected_schema(create_tables)
        check_schema(conn, path, expected, optional)
        check_integrity(conn, path)
        check_counts(conn, path, [n for n, e in expected.items() if e[0] == "table"])
        check_json_texts(conn, path)
    except sqlite3.DataError as e:
        conn.close()
        raise ContainerError(f"{path}: a value exceeds the log's size limits: {one_line(e)}") from None
    except (sqlite3.Error, UnicodeDecodeError, RecursionError, ValueError) as e:
        conn.close()
        raise ContainerError(f"{path}: unreadable SQLite database: {one_line(e)}") from None
    except CardsimError:
        conn.close()
        raise
    return conn

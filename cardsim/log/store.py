"""The SQLite transaction log: tables, the batched writer, and opening a log for reading.

Tables (see docs/log-format.md): ``transactions`` (one row per transaction, ``record.COLUMNS``),
``runs`` (one row: scenario, seed, version, wall-clock start and end, completed flag, summary),
``blacklist`` (loss reports) and ``blacklist_signatures`` (each issuer's over its own), ``certificates``, ``checkpoints``, ``uploads`` (terminals' signed
batches, ``upload.UPLOAD_COLUMNS``), ``merchant_totals`` (what each merchant's terminals uploaded,
signed by the merchant) and ``metrics``. Tables are created with sqlite-utils; rows are inserted with
``executemany`` inside one transaction per batch (performance shortcut: sqlite-utils'
``insert_all`` builds a dict per row and measured 4x slower on this hot path). A batch is either
wholly in the file or not at all, and ``runs.completed`` is set to 1 only in the last commit, so a
killed run never looks complete.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Iterator

import sqlite_utils

from cardsim.domain import __version__
from cardsim.errors import CardsimError, one_line
from cardsim.config.scenario import Scenario, from_config_json
from cardsim.files import create_new, file_uri, refuse_link
from cardsim.log.container import open_container
from cardsim.records.record import COLUMN_NAMES, COLUMNS, Record
from cardsim.signing.upload import MERCHANT_TOTALS_COLUMNS, UPLOAD_COLUMNS

_SQLTYPE = {"INTEGER": int, "REAL": float, "TEXT": str, "BLOB": bytes}

RUN_COLUMNS = {
    "run_id": int, "cardsim_version": str, "scenario_name": str, "scenario_source": str,
    "scenario_text": str, "config_json": str, "seed": int, "scale": float, "sets_json": str,
    "started_at": str, "ended_at": str, "completed": int, "transactions": int,
    "wall_seconds": float, "summary_json": str, "signed": int, "algorithm": str,
}

CERT_COLUMNS = {"subject": str, "kind": str, "issuer": str, "algorithm": str, "body": bytes,
                "signature": bytes}
#: One row per province: its issuer's signature over the province's loss reports in ``blacklist``.
BLACKLIST_SIGNATURE_COLUMNS = {"province": str, "issuer": str, "count": int, "reports_digest": bytes,
                               "signature": bytes}
CHECKPOINT_COLUMNS = {"checkpoint": int, "count": int, "head": bytes, "root": bytes, "sim_time": float,
                      "final": int, "signer": str, "signature": bytes}


METRIC_COLUMNS = {"hour": int, "metric": str, "key": str, "value": float}
#: The root of each block of 1,024 records' hashes (``chain.BLOCK``): block k covers leaves
#: [1024 k, 1024 k + 1024). What proofs are computed from, instead of every record hash.
TREE_BLOCK_COLUMNS = {"block": int, "root": bytes}
#: Each card's state when the run ended (what a log that follows this one starts from): its
#: counter, stored value and senior quota (rides left, the calendar year they count for, and the
#: extensions left that year).
CARD_STATE_COLUMNS = {"card_id": str, "atc": int, "balance_fen": int, "quota_left": int,
                      "quota_year": int, "quota_extensions_left": int}
#: Signed logs: the hub's signature over ``card_state`` (one row: the rows' count and digest,
#: :func:`cardsim.records.encoding.card_state_message`), so the state a next day starts from is
#: the hub's word too.
CARD_STATE_SIGNATURE_COLUMNS = {"signer": str, "count": int, "states_digest": bytes,
                                "signature": bytes}
#: For a log that follows another (linked days): per terminal, the last upload number it reached
#: before this log (its uploads here go on from there).
UPLOAD_START_COLUMNS = {"terminal_id": str, "number": int}
#: For a log that follows another (linked days): the state its cards started from (the previous
#: log's ``card_state``), for replay.
CARD_START_COLUMNS = CARD_STATE_COLUMNS
#: For a log that follows another (linked days): the previous log's id and final signed tree head,
#: and the seed its card population comes from (one row; none in a log that follows nothing).
PREDECESSOR_COLUMNS = {"log_id": bytes, "count": int, "head": bytes, "root": bytes,
                       "sim_time": float, "final": int, "signer": str, "signature": bytes,
                       "population_seed": int}

#: The INSERT statement of each table written alongside the transactions.
_INSERT = {table: f"INSERT INTO {table} VALUES ({','.join('?' * len(cols))})"
           for table, cols in (("certificates", CERT_COLUMNS), ("checkpoints", CHECKPOINT_COLUMNS),
                               ("uploads", UPLOAD_COLUMNS), ("metrics", METRIC_COLUMNS),
                               ("merchant_totals", MERCHANT_TOTALS_COLUMNS),
                               ("card_state", CARD_STATE_COLUMNS),
                               ("card_state_signature", CARD_STATE_SIGNATURE_COLUMNS),
                               ("tree_blocks", TREE_BLOCK_COLUMNS),
                               ("blacklist_signatures", BLACKLIST_SIGNATURE_COLUMNS))}


def _insert(conn: sqlite3.Connection, **tables: list[tuple]) -> None:
    for table, rows in tables.items():
        if rows:
            conn.executemany(_INSERT[table], rows)


#: The attack harness's ground truth (``cardsim.attacks``): the one table a log may hold besides
#: the format's own.
GROUND_TRUTH_SQL = ("CREATE TABLE ground_truth (id INTEGER PRIMARY KEY, attack TEXT, seq INTEGER, "
                    "tx_id TEXT, detail TEXT, expect_seq INTEGER)")


def create_tables(conn: sqlite3.Connection,
                  columns: tuple[tuple[str, str, str], ...] = tuple(COLUMNS)) -> None:
    """Create the log format's tables and indexes: the one definition of the container, used by
    the writer and, on an empty database, by the reader's container check."""
    db = sqlite_utils.Database(conn)
    db["transactions"].create({c[0]: _SQLTYPE[c[1]] for c in columns}, pk="seq",
                              not_null={"tx_id", "sim_time", "channel", "card_id"})
    db["transactions"].create_index(["tx_id"], unique=True)
    db["runs"].create(RUN_COLUMNS, pk="run_id")
    db["blacklist"].create({"card_id": str, "card_province": str, "reported_at": float},
                           pk="card_id")
    db["certificates"].create(CERT_COLUMNS, pk="subject")
    db["checkpoints"].create(CHECKPOINT_COLUMNS, pk="checkpoint")
    db["uploads"].create(UPLOAD_COLUMNS, pk="upload")
    db["merchant_totals"].create(MERCHANT_TOTALS_COLUMNS, pk="merchant_id")
    db["blacklist_signatures"].create(BLACKLIST_SIGNATURE_COLUMNS, pk="province")
    db["metrics"].create(METRIC_COLUMNS, pk=("hour", "metric", "key"))
    db["card_state"].create(CARD_STATE_COLUMNS, pk="card_id")
    db["card_state_signature"].create(CARD_STATE_SIGNATURE_COLUMNS, pk="signer")
    db["tree_blocks"].create(TREE_BLOCK_COLUMNS, pk="block")
    db["predecessor"].create(PREDECESSOR_COLUMNS, pk="log_id")
    db["card_start"].create(CARD_START_COLUMNS, pk="card_id")
    db["upload_start"].create(UPLOAD_START_COLUMNS, pk="terminal_id")


def _optional_tables() -> dict[str, tuple]:
    return {"ground_truth": ("table", "ground_truth", GROUND_TRUTH_SQL)}


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


_COMPANIONS = ("-wal", "-shm", "-journal")


def check_new(path: str | Path, force: bool) -> None:
    """Refuse a new log at ``path`` before anything is written (keys included): a symbolic
    link at its name or a companion's, an existing file without ``force``, a directory, a
    missing parent directory. Changes nothing."""
    path = Path(path)
    for name in [path] + [Path(f"{path}{s}") for s in _COMPANIONS]:
        refuse_link(name, "log file")
    if path.exists():
        if not force:
            raise CardsimError(f"{path}: already exists; pass --force to replace it")
        if path.is_dir():
            raise CardsimError(f"{path}: is a directory, expected a log file path")
    if not path.parent.exists():
        raise CardsimError(f"{path}: directory {path.parent} does not exist")


def _prepare_new(path: Path, force: bool) -> None:
    """Make way for a new log at ``path`` (:func:`check_new`, then an existing log is removed)."""
    check_new(path, force)
    if path.exists():
        remove_db(path)
    for name in [Path(f"{path}{s}") for s in _COMPANIONS]:
        name.unlink(missing_ok=True)     # a stale companion would be read as the new log's


def _connect_new(path: Path) -> sqlite3.Connection:
    """A read-write connection to exactly ``path``; SQLite refuses it when it is a link."""
    try:
        return sqlite3.connect(file_uri(path, "rw", nofollow=True), uri=True)
    except sqlite3.Error as e:
        raise CardsimError(f"{path}: cannot open log: {one_line(e)}") from None


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(f"{path}{suffix}")
        except FileNotFoundError:
            pass


class LogWriter:
    """Writes one run's log. Use :meth:`write` per batch, then :meth:`finish` (or just close)."""

    def __init__(self, path: str | Path, db: sqlite_utils.Database,
                 columns: tuple[tuple[str, str, str], ...] = tuple(COLUMNS), written: int = 0):
        self.path = Path(path)
        self.db = db
        self.columns = columns
        self._insert = f"INSERT INTO transactions VALUES ({','.join('?' * len(columns))})"
        self.written = written

    @classmethod
    def create(cls, path: str | Path, scenario, force: bool = False,
               algorithm: str | None = None,
               x509: list[tuple] = (), predecessor: tuple | None = None,
               card_start: list[tuple] = (), upload_start: list[tuple] = ()) -> "LogWriter":
        """Create a new log with its tables and an incomplete ``runs`` row.

        ``algorithm`` names the signature algorithm (None: an unsigned log); ``x509`` rows are
        the CA-layer certificates (subject, kind, issuer, algorithm, DER, None) stored with it;
        ``predecessor`` the ``predecessor`` row of a log that follows another, ``card_start``
        the state its cards start from and ``upload_start`` its terminals' upload numbers.
        """
        path = Path(path)
        _prepare_new(path, force)
        columns = tuple(COLUMNS)
        try:
            os.close(create_new(path, 0o644, "log file"))
            db = sqlite_utils.Database(_connect_new(path))
            db.enable_wal()
            create_tables(db.conn, columns)
            if x509:
                db["certificates"].insert_all([dict(zip(CERT_COLUMNS, r)) for r in x509])
            if predecessor is not None:
                db["predecessor"].insert(dict(zip(PREDECESSOR_COLUMNS, predecessor)))
                with db.conn:
                    db.conn.executemany(
                        f"INSERT INTO card_start VALUES ({','.join('?' * len(CARD_START_COLUMNS))})",
                        card_start)
                    db.conn.executemany("INSERT INTO upload_start VALUES (?,?)", upload_start)
            db["runs"].insert({
                "run_id": 1, "cardsim_version": __version__, "scenario_name": scenario.name,
                "scenario_source": scenario.source, "scenario_text": scenario.text,
                "config_json": scenario.config_json(), "seed": scenario.seed,
                "scale": scenario.scale, "sets_json": json.dumps(list(scenario.sets)),
                "started_at": _now_iso(), "ended_at": None, "completed": 0, "transactions": 0,
                "wall_seconds": None, "summary_json": None, "signed": int(algorithm is not None),
                "algorithm": algorithm})
        except (sqlite3.Error, OSError) as e:
            raise CardsimError(f"{path}: cannot create log: {e}") from None
        db.conn.execute("PRAGMA synchronous=NORMAL")
        return cls(path, db, columns)

    @classmethod
    def append(cls, path: str | Path) -> "LogWriter":
        """Reopen a log made by :meth:`create` to append (in the writer process)."""
        db = sqlite_utils.Database(_connect_new(Path(path)))
        db.conn.execute("PRAGMA synchronous=NORMAL")
        cols = db.conn.execute("PRAGMA table_info(transactions)").fetchall()
        columns = tuple((c[1], c[2], "") for c in cols)
        written = db.conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
        return cls(path, db, columns, written)

    def write(self, rows: list[tuple], certs: list[tuple] = (), checkpoints: list[tuple] = (),
              uploads: list[tuple] = (), tree_blocks: list[tuple] = ()) -> None:
        """Append a batch of rows, with the certificates, checkpoints, terminal uploads and tree
        blocks it brings, in one transaction: a batch is in the log whole or not at all."""
        conn = self.db.conn
        with conn:
            conn.executemany(self._insert, rows)
            _insert(conn, certificates=certs, checkpoints=checkpoints, uploads=uploads,
                    tree_blocks=tree_blocks)
        self.written += len(rows)

    def write_blacklist(self, rows: list[tuple[str, str, float]], signatures: list[tuple] = ()) -> None:
        """The run's loss reports and, in signed logs, each issuer's signature over its own."""
        conn = self.db.conn
        with conn:
            conn.executemany("INSERT OR REPLACE INTO blacklist VALUES (?,?,?)", rows)
            _insert(conn, blacklist_signatures=signatures)

    def finish(self, summary: dict, wall_seconds: float, checkpoints: list[tuple] = (),
               metrics: list[tuple] = (), uploads: list[tuple] = (), certs: list[tuple] = (),
               merchant_totals: list[tuple] = (), card_state: list[tuple] = (),
               card_state_signature: list[tuple] = ()) -> None:
        """Mark the run complete, in the same commit as its summary, metrics, the terminals' last
        uploads, the cards' final state and the final checkpoint."""
        conn = self.db.conn
        with conn:
            _insert(conn, certificates=certs, uploads=uploads, metrics=metrics,
                    merchant_totals=merchant_totals, checkpoints=checkpoints,
                    card_state=card_state, card_state_signature=card_state_signature)
            conn.execute("UPDATE runs SET ended_at=?, completed=1, transactions=?, wall_seconds=?, "
                         "summary_json=? WHERE run_id=1",
                         (_now_iso(), self.written, wall_seconds, json.dumps(summary, sort_keys=True)))
        self.close()

    def close(self) -> None:
        try:
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:  # pragma: no cover - best effort
            pass
        self.db.conn.close()


def open_log(path: str | Path) -> sqlite3.Connection:
    """Open an existing log read-only after checking its container (``cardsim.log.container``:
    exactly that file, a regular file, the format's schema and nothing else, SQLite's integrity
    check, one runs row, bounded values), or raise a one-line :class:`CardsimError` saying why not."""
    return open_container(path, create_tables, _optional_tables())


def read_run(conn: sqlite3.Connection, path: str | Path = "log") -> dict:
    conn.row_factory = None
    try:
        cur = conn.execute("SELECT * FROM runs ORDER BY run_id LIMIT 1")
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
    except (sqlite3.Error, UnicodeDecodeError) as e:
        raise CardsimError(f"{path}: unreadable runs table: {one_line(e)}") from None
    if row is None:
        raise CardsimError(f"{path}: not a cardsim log (runs table is empty)")
    return dict(zip(names, row))


def log_scenario_of(run: dict, path: str | Path = "log") -> Scenario:
    """The scenario a log was written from: its runs row's effective configuration, re-validated."""
    return from_config_json(run.get("config_json") or "", f"{path} (runs.config_json)",
                            name=run.get("scenario_name") or "log")


class Log:
    """An existing log opened read-only: its runs row, its scenario and its transactions.

    A context manager: ``with Log.open(path) as log: ...`` closes the connection at the end.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, run: dict):
        self.path = path
        self._conn = conn
        #: The ``runs`` row as a dict, column name -> value (docs/log-format.md).
        self.run = run
        self._scenario: Scenario | None = None

    @classmethod
    def open(cls, path: str | Path) -> "Log":
        """Open the log at ``path``; a :class:`CardsimError` says why it is not a usable log."""
        conn = open_log(path)
        try:
            run = read_run(conn, path)
        except CardsimError:
            conn.close()
            raise
        return cls(Path(path), conn, run)

    @property
    def scenario(self) -> Scenario:
        """The log's own scenario (``runs.config_json``), validated when first read."""
        if self._scenario is None:
            self._scenario = log_scenario_of(self.run, self.path)
        return self._scenario

    @property
    def summary(self) -> dict | None:
        """The run summary (docs/summary.md), or None when the run did not complete."""
        text = self.run.get("summary_json")
        return json.loads(text) if text else None

    def last_seq(self) -> int:
        """The highest ``seq`` (the record count of an intact log); 0 when none is readable."""
        try:
            return self._conn.execute("SELECT max(seq) FROM transactions").fetchone()[0] or 0
        except sqlite3.Error:
            return 0

    def transactions(self) -> Iterator[Record]:
        """Every transaction in log (``seq``) order, as :data:`Record` named tuples."""
        cur = self._conn.execute(f"SELECT {','.join(COLUMN_NAMES)} FROM transactions ORDER BY seq")
        try:
            yield from map(Record._make, cur)
        except (sqlite3.Error, UnicodeDecodeError) as e:
            raise CardsimError(f"{self.path}: unreadable transactions: {one_line(e)}") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Log":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def digest(path: str | Path, tables: tuple[str, ...] = ("transactions", "blacklist", "certificates",
                                                       "checkpoints", "uploads", "merchant_totals",
                                                       "blacklist_signatures", "metrics",
                                                       "card_state", "card_state_signature",
                                                       "predecessor",
                                                       "card_start", "upload_start",
                                                       "tree_blocks")) -> str:
    """SHA-256 over the content of the log's deterministic tables, in primary-key order.

    Two runs of the same scenario and seed give the same digest; only ``runs`` holds wall-clock
    times. Each value is fed with its SQLite type so 1 and 1.0 and '1' differ.
    """
    conn = open_log(path)
    h = hashlib.sha256()
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for t in tables:
            if t not in present:
                continue
            h.update(f"table {t}\n".encode())
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
            h.update((",".join(cols) + "\n").encode())
            for row in conn.execute(f"SELECT * FROM {t} ORDER BY rowid"):
                h.update(repr(row).encode())
                h.update(b"\n")
    finally:
        conn.close()
    return h.hexdigest()

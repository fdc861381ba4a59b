"""The SQLite file is an untrusted container (issue 11). Each test mounts the attack an outsider
with no key can make on a log file (edit the file, name it, or put something else at its path)
and asserts that reading it gives a one-line error and exit code 2, before any check trusts it."""

import os
import shutil
import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.config.scenario import load
from cardsim.errors import CardsimError
from cardsim.log import container as C
from cardsim.log.store import open_log, read_run

from adversarial.support import assert_bad_input
from conftest import ROOT

runner = CliRunner()


@pytest.fixture(scope="module")
def small_log(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("container")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.01,
              sets=["simulation.duration_hours=2", "simulation.start_hour=7"])
    api.run(sc, out=d / "clean.db", keys_dir=keys_dir, workers=1)
    return d / "clean.db"


@pytest.fixture
def log(small_log, tmp_path):
    p = tmp_path / "log.db"
    shutil.copy(small_log, p)
    return p


def verify_cli(path, keys_dir):
    return runner.invoke(app, ["verify", str(path), "--keys", str(keys_dir), "--workers", "1",
                               "--quiet"])


def edit(path, *sql, writable_schema=False):
    con = sqlite3.connect(path)
    if writable_schema:
        con.execute("PRAGMA writable_schema=ON")
    for s in sql:
        con.execute(s)
    con.commit()
    con.close()


def test_clean_log_passes_the_container_checks(log, keys_dir):
    assert verify_cli(log, keys_dir).exit_code == 0


# --- the path names exactly one file --------------------------------------------------------------

@pytest.mark.parametrize("name", ["a#b.db", "a?mode=rwc.db", "a%23b.db", "a%3Fx.db", "sp ace.db"])
def test_uri_syntax_in_a_file_name_opens_that_file(log, tmp_path, keys_dir, name):
    """Unencoded, SQLite reads 'a#b.db' as the file 'a' and '?mode=rwc' as a parameter: a decoy
    at the prefix would be verified instead of the named file."""
    target = tmp_path / "named" / name
    target.parent.mkdir()
    shutil.copy(log, target)
    decoy = tmp_path / "named" / "a"
    decoy.write_bytes(b"decoy")
    conn = open_log(target)
    try:
        assert read_run(conn)["run_id"] == 1
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM runs")           # read-only, and query_only
    finally:
        conn.close()
    assert verify_cli(target, keys_dir).exit_code == 0
    assert decoy.read_bytes() == b"decoy"


def test_fifo_is_refused_without_blocking(tmp_path, keys_dir):
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    done = []
    t = threading.Thread(target=lambda: done.append(verify_cli(fifo, keys_dir)), daemon=True)
    t.start()
    t.join(20)
    assert done, "verify blocked on a FIFO"
    assert_bad_input(done[0], str(fifo), "not a regular file")


@pytest.mark.parametrize("path,words", [("/dev/null", "not a regular file"),
                                        ("/", "is a directory")])
def test_devices_and_directories_are_refused(keys_dir, path, words):
    assert_bad_input(verify_cli(path, keys_dir), words)


# --- the schema is exactly the format's -----------------------------------------------------------

SCHEMA_ATTACKS = {
    "view": ["CREATE VIEW v AS SELECT * FROM transactions"],
    "recursive view": ["CREATE VIEW r AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 "
                       "FROM c) SELECT x FROM c"],
    "trigger": ["CREATE TRIGGER t AFTER INSERT ON runs BEGIN SELECT 1; END"],
    "extra index on a signed table": ["CREATE INDEX i ON blacklist(reported_at)"],
    "extra table": ["CREATE TABLE notes(x)"],
    "dropped table": ["DROP TABLE merchant_totals"],
    "dropped index": ["DROP INDEX idx_transactions_tx_id"],
    "added column": ["ALTER TABLE blacklist ADD COLUMN extra TEXT"],
    "generated column": ["ALTER TABLE certificates ADD COLUMN g TEXT GENERATED ALWAYS AS "
                         "(subject) VIRTUAL"],
    "renamed column": ["ALTER TABLE blacklist RENAME COLUMN reported_at TO reported"],
    "column type": ["CREATE TABLE b2 (card_id TEXT PRIMARY KEY, card_province TEXT, "
                    "reported_at TEXT)", "INSERT INTO b2 SELECT * FROM blacklist",
                    "DROP TABLE blacklist", "ALTER TABLE b2 RENAME TO blacklist"],
}


@pytest.mark.parametrize("attack", sorted(SCHEMA_ATTACKS))
def test_schema_that_is_not_the_format_is_bad_input(log, keys_dir, attack):
    edit(log, *SCHEMA_ATTACKS[attack])
    assert_bad_input(verify_cli(log, keys_dir), str(log), "not a cardsim log")


def test_ground_truth_table_is_the_one_optional_table(log, keys_dir):
    from cardsim.log.store import GROUND_TRUTH_SQL
    edit(log, GROUND_TRUTH_SQL)
    assert verify_cli(log, keys_dir).exit_code == 0
    edit(log, "ALTER TABLE ground_truth ADD COLUMN x")
    assert_bad_input(verify_cli(log, keys_dir), "ground_truth")


def test_index_that_disagrees_with_its_table_is_caught(log, keys_dir):
    """The index's definition text is the format's, but its content leaves out a row: a look-up
    through the index and a scan of the table would read different rows."""
    con = sqlite3.connect(log)
    sql = con.execute("SELECT sql FROM sqlite_schema WHERE name='idx_transactions_tx_id'").fetchone()[0]
    con.close()
    edit(log, "DROP INDEX idx_transactions_tx_id",
         'CREATE UNIQUE INDEX "idx_transactions_tx_id" ON "transactions" ("tx_id") WHERE seq != 5')
    edit(log, f"UPDATE sqlite_schema SET sql = '{sql}' WHERE name = 'idx_transactions_tx_id'",
         writable_schema=True)
    assert_bad_input(verify_cli(log, keys_dir), str(log), "damaged SQLite file")


# --- the runs row and bounded work ----------------------------------------------------------------

@pytest.mark.parametrize("sql,words", [
    ("DELETE FROM runs", "exactly one runs row"),
    ("UPDATE runs SET run_id = 2", "run_id 2"),
    ("INSERT INTO runs (run_id) VALUES (7)", "exactly one runs row"),
])
def test_runs_row_must_be_the_one_documented(log, keys_dir, sql, words):
    edit(log, sql)
    assert_bad_input(verify_cli(log, keys_dir), words)


def test_deeply_nested_json_is_bad_input_not_a_recursion_error(log, keys_dir):
    edit(log, f"UPDATE runs SET config_json = '{'[' * 200_000}{']' * 200_000}'")
    assert_bad_input(verify_cli(log, keys_dir), "runs.config_json", "nested deeper")


def test_huge_value_is_refused_when_read_never_allocated(log, keys_dir):
    """A value over the cap is an SQLite error when read: the records that need it fail."""
    edit(log, f"UPDATE certificates SET body = zeroblob({C.MAX_VALUE_BYTES + 1}) "
              "WHERE rowid = (SELECT min(rowid) FROM certificates WHERE kind = 'card')")
    r = verify_cli(log, keys_dir)
    assert r.exit_code == 1 and "unusable_values" in r.output and "Traceback" not in r.output


def test_huge_value_in_runs_is_bad_input(log, keys_dir):
    edit(log, f"UPDATE runs SET summary_json = zeroblob({C.MAX_VALUE_BYTES + 1})")
    assert_bad_input(verify_cli(log, keys_dir), "size limits")


def test_json_depth_counts_outside_strings():
    assert C.json_depth('{"a": [1, {"b": "[[[[\\"]]"}]}') == 3
    assert C.json_depth("[" * 50 + "]" * 50) == 50


# --- any mutation: exit 1 or 2, never a traceback -------------------------------------------------

MUTATIONS = sorted(SCHEMA_ATTACKS) + ["truncate", "flip byte", "append garbage", "text in int",
                                       "blob in text", "null in not-null"]


def mutate(path, kind: str, where: float) -> None:
    if kind in SCHEMA_ATTACKS:
        edit(path, *SCHEMA_ATTACKS[kind])
        return
    size = path.stat().st_size
    at = int(where * (size - 1))
    if kind == "truncate":
        with open(path, "r+b") as f:
            f.truncate(at)
    elif kind == "flip byte":
        with open(path, "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0xFF]))
    elif kind == "append garbage":
        with open(path, "ab") as f:
            f.write(os.urandom(1 + at % 5000))
    else:
        seq = 1 + at % 50
        col = {"text in int": ("atc", "'12'"), "blob in text": ("channel", "x'00ff'"),
               "null in not-null": ("amount_fen", "NULL")}[kind]
        edit(path, f"UPDATE transactions SET {col[0]} = {col[1]} WHERE seq = {seq}")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(MUTATIONS), where=st.floats(0.0, 1.0))
def test_mutated_container_exits_1_or_2_without_traceback(small_log, tmp_path, keys_dir, kind, where):
    p = tmp_path / f"m-{abs(hash((kind, where)))}.db"
    shutil.copy(small_log, p)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{small_log}{suffix}"):
            shutil.copy(f"{small_log}{suffix}", f"{p}{suffix}")
    mutate(p, kind, where)
    r = verify_cli(p, keys_dir)
    assert "Traceback" not in r.output
    # a flipped or appended byte may land where SQLite keeps nothing: the content is the same
    assert r.exit_code in ((0, 1, 2) if kind in ("flip byte", "append garbage") else (1, 2)), r.output
    if kind in SCHEMA_ATTACKS:
        assert r.exit_code == 2
    if r.exit_code == 2:
        assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_open_container_error_is_a_cardsim_error(tmp_path):
    p = tmp_path / "x.db"
    sqlite3.connect(p).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(CardsimError, match="not a cardsim log"):
        open_log(p)


@pytest.mark.parametrize("cut", [1, 4095])
def test_a_file_not_in_whole_pages_is_refused_even_where_the_wal_covers_the_cut(small_log, tmp_path,
                                                                               keys_dir, cut):
    p = tmp_path / "cut.db"
    shutil.copy(small_log, p)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{small_log}{suffix}"):
            shutil.copy(f"{small_log}{suffix}", f"{p}{suffix}")
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size - cut)
    r = verify_cli(p, keys_dir)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "not a whole number of its 4096-byte pages" in r.output

import sqlite3

import pytest

from cardsim.errors import CardsimError
from cardsim.log.store import LogWriter, digest, open_log, read_run
from cardsim.records.record import COLUMN_NAMES


def test_create_refuses_to_overwrite(tmp_path, quick_scenario):
    p = tmp_path / "x.db"
    p.write_bytes(b"precious")
    with pytest.raises(CardsimError, match="already exists; pass --force"):
        LogWriter.create(p, quick_scenario)
    assert p.read_bytes() == b"precious"
    LogWriter.create(p, quick_scenario, force=True).close()
    assert open_log(p) is not None


def test_missing_directory(tmp_path, quick_scenario):
    with pytest.raises(CardsimError, match="does not exist"):
        LogWriter.create(tmp_path / "no" / "x.db", quick_scenario)


def test_table_columns_and_incomplete_run(tmp_path, quick_scenario):
    p = tmp_path / "x.db"
    LogWriter.create(p, quick_scenario).close()
    con = open_log(p)
    assert tuple(r[1] for r in con.execute("PRAGMA table_info(transactions)")) == COLUMN_NAMES
    run = read_run(con, p)
    assert run["completed"] == 0 and run["scenario_text"] == quick_scenario.text


@pytest.mark.parametrize("content,msg", [
    (None, "no such log file"), (b"", "not an SQLite database"),
    (b"hello world, not sqlite at all", "not an SQLite database")])
def test_open_log_errors(tmp_path, content, msg):
    p = tmp_path / "x.db"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(CardsimError, match=msg):
        open_log(p)


def test_open_log_rejects_other_sqlite(tmp_path):
    p = tmp_path / "other.db"
    sqlite3.connect(p).execute("CREATE TABLE t (a)").connection.commit()
    with pytest.raises(CardsimError, match="not a cardsim log"):
        open_log(p)
    with pytest.raises(CardsimError, match="directory"):
        open_log(tmp_path)


def test_digest_sees_any_edit(tmp_path, quick_scenario):
    from cardsim import api
    p = tmp_path / "x.db"
    api.run(quick_scenario, out=p, create_keys=True)
    d = digest(p)
    con = sqlite3.connect(p)
    con.execute("UPDATE transactions SET amount_fen = amount_fen + 1 WHERE seq = 7")
    con.commit()
    con.close()
    assert digest(p) != d

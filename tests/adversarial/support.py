"""Helpers the adversarial tests share: editing a log as an outsider, and the bad-input rule."""

import sqlite3


def edit(path, sql, *args) -> None:
    """Run one statement on the log file directly, as anyone who can write the file can."""
    con = sqlite3.connect(path)
    with con:
        con.execute(sql, args)
    con.close()


def one(path, sql):
    """The first row of a query on the log file."""
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def assert_bad_input(result, *words) -> None:
    """Exit 2, no traceback, and one line on stderr holding each of ``words``."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], lines[0]

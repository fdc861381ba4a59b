"""Crash safety: SIGKILL a real run mid-way; the log must open, every committed record must be
intact and signed, the run marked incomplete, and no partial batch present."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from logcheck import check


def start(tmp_path, keys_dir, new_session):
    out = tmp_path / "crash.db"
    cmd = [sys.executable, "-m", "cardsim", "run", str(ROOT / "scenarios" / "weekday.toml"),
           "--out", str(out), "--keys", str(keys_dir), "--quiet", "--workers", "2",
           "--set", "simulation.batch_size=700", "--set", "simulation.checkpoint_every=1000"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                         start_new_session=new_session)
    return p, out


def wait_for_rows(out, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            con = sqlite3.connect(f"file:{out}?mode=ro", uri=True, timeout=1)
            got = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
            con.close()
            if got >= n:
                return got
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    raise AssertionError("the run wrote no rows in time")


@pytest.mark.parametrize("whole_group", [False, True], ids=["kill-simulation", "kill-all-processes"])
def test_sigkill_mid_run(tmp_path, keys_dir, whole_group):
    p, out = start(tmp_path, keys_dir, new_session=whole_group)
    try:
        wait_for_rows(out, 3000)
        if whole_group:
            os.killpg(p.pid, signal.SIGKILL)
        else:
            p.send_signal(signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    time.sleep(1.0)      # orphaned workers and writer notice end-of-file and stop
    con = sqlite3.connect(out)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    completed, = con.execute("SELECT completed FROM runs").fetchone()
    n = con.execute("SELECT count(*) FROM transactions").fetchone()[0]
    assert completed == 0
    assert n % 700 == 0 and n >= 2800                       # whole batches only
    assert con.execute("SELECT count(*) FROM checkpoints WHERE final=1").fetchone()[0] == 0
    con.close()
    got = check(out, (keys_dir / "root-ca.pem").read_bytes())   # every record intact and signed
    assert got["records"] == n and got["final"] is None
    # the terminals' uploads committed so far are whole: each matches its records (checked), and
    # only the batches still open at the kill are missing
    assert 0 < got["uploaded"] < n

"""Witnesses: a head is countersigned only when it extends the last one the witness saw; a log cut
or rewritten since is refused; and two different logs shown to two auditors under one log id (a
split view) are caught once their witnesses compare heads."""

import json
import os
import sqlite3

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.config.scenario import load
from cardsim.records.record import INDEX
from cardsim.signing.keys import merchant_name

from adversarial.support import assert_bad_input, edit, one
from adversarial.test_binding import Collusion, set_columns
from conftest import ROOT

runner = CliRunner()


@pytest.fixture(scope="module")
def day(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("witness")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
              sets=["simulation.duration_hours=1", "simulation.start_hour=8",
                    "simulation.checkpoint_every=150"])
    api.run(sc, out=d / "day.db", keys_dir=keys_dir, workers=1)
    return d / "day.db"


@pytest.fixture
def log(day, tmp_path):
    p = tmp_path / "log.db"
    p.write_bytes(day.read_bytes())
    return p


def prefix(log, tmp_path, heads: int):
    """The log as it stood at its ``heads``-th signed tree head (a run still going)."""
    p = tmp_path / f"prefix{heads}.db"
    p.write_bytes(log.read_bytes())
    size = one(p, f"SELECT count FROM checkpoints WHERE checkpoint = {heads}")[0]
    edit(p, "DELETE FROM transactions WHERE seq > ?", size)
    edit(p, "DELETE FROM checkpoints WHERE checkpoint > ?", heads)
    return p, size


def rewritten(log, tmp_path, keys_dir):
    """The same log id, one record rewritten by the hub and the record's merchant, every chain
    link, tree head, upload and total signed again: a log that verifies on its own."""
    p = tmp_path / "other.db"
    p.write_bytes(log.read_bytes())
    c = Collusion(p, keys_dir, [])
    row = c.row(lambda r: r["category"] == "adult" and r["seq"] > 20)
    c.merchants = [row[INDEX["merchant_id"]]]
    from cardsim.signing.keys import HUB, KeyRing
    c.ring = KeyRing.load(keys_dir, names=[HUB, merchant_name(c.merchants[0])])
    set_columns(row, category="student")
    c.commit()
    return p


def test_a_head_is_countersigned_once_it_extends_the_last_one(log, tmp_path, keys_dir):
    early, size = prefix(log, tmp_path, 2)
    w, state = tmp_path / "w", tmp_path / "state.json"
    first = api.witness(early, w, state, anchor_dir=keys_dir)
    assert first.ok and first.tree_size == size and first.previous_size is None
    assert oct((w / "witness.key").stat().st_mode & 0o777) == "0o600"
    later = api.witness(log, w, state, anchor_dir=keys_dir)
    assert later.ok and later.previous_size == size and later.tree_size > size
    saved = json.loads(state.read_text())
    assert [h["head"]["tree_size"] for h in saved["logs"].values()] == [later.tree_size]
    assert api.verify(log, keys_dir, witnesses=[state]).ok


@pytest.mark.parametrize("change", ["cut", "rewritten"])
def test_a_log_cut_or_rewritten_after_it_was_witnessed_is_refused(log, tmp_path, keys_dir, change):
    w, state = tmp_path / "w", tmp_path / "state.json"
    assert api.witness(log, w, state, anchor_dir=keys_dir).ok
    before = state.read_bytes()
    other = prefix(log, tmp_path, 2)[0] if change == "cut" else rewritten(log, tmp_path, keys_dir)
    got = api.witness(other, w, state, anchor_dir=keys_dir)
    assert not got.ok and ("cut" if change == "cut" else "not consistent") in got.reason
    assert state.read_bytes() == before                      # nothing countersigned
    report = api.verify(other, keys_dir, witnesses=[state]).report
    reasons = [f.reason for f in report.findings if f.check == "witness"]
    assert len(reasons) == 1
    assert reasons[0].startswith("shorter_than_witnessed" if change == "cut"
                                 else "inconsistent_with_witnessed_head")


def test_two_logs_shown_to_two_auditors_are_caught_once_witnesses_compare(log, tmp_path, keys_dir):
    """The hub shows auditor 1 the log and auditor 2 a rewritten one, under the same log id. Each
    log verifies, and each auditor's own witness countersigns what it was shown; the split view
    shows the moment one witness's heads meet the other's log or state."""
    other = rewritten(log, tmp_path, keys_dir)
    assert api.verify(log, keys_dir).ok and api.verify(other, keys_dir).ok
    assert one(log, "SELECT config_json, seed FROM runs") == one(other, "SELECT config_json, seed FROM runs")
    s1, s2 = tmp_path / "auditor1.json", tmp_path / "auditor2.json"
    assert api.witness(log, tmp_path / "w1", s1, anchor_dir=keys_dir).ok
    assert api.witness(other, tmp_path / "w2", s2, anchor_dir=keys_dir).ok
    assert api.verify(log, keys_dir, witnesses=[s1]).ok           # each alone sees nothing wrong
    assert api.verify(other, keys_dir, witnesses=[s2]).ok
    (l1,) = json.loads(s1.read_text())["logs"]
    (l2,) = json.loads(s2.read_text())["logs"]
    assert l1 == l2                                               # one log id, two histories
    got = api.witness(log, tmp_path / "w1", s1, anchor_dir=keys_dir, peers=[s2])
    assert not got.ok and got.reason.startswith("split view")
    assert not api.witness(other, tmp_path / "w2", s2, anchor_dir=keys_dir, peers=[s1]).ok
    for path, state in ((log, s2), (other, s1)):
        report = api.verify(path, keys_dir, witnesses=[s1, s2]).report
        assert [f.reason.split(":")[0] for f in report.findings] == ["inconsistent_with_witnessed_head"]


def test_cli_witness_and_verify_witness(log, tmp_path, keys_dir):
    args = ["witness", str(log), "--keys", str(tmp_path / "w"), "--anchor", str(keys_dir),
            "--state", str(tmp_path / "s.json")]
    r = runner.invoke(app, args + ["--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True
    r = runner.invoke(app, ["verify", str(log), "--keys", str(keys_dir), "--witness",
                            str(tmp_path / "s.json"), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["checks"]["witness"] == {"passed": 1, "failed": 0}
    cut = prefix(log, tmp_path, 1)[0]
    r = runner.invoke(app, ["witness", str(cut)] + args[2:])
    assert r.exit_code == 1 and r.stdout.startswith("REFUSED")


def test_a_state_that_never_saw_the_log_fails_verify(log, tmp_path, keys_dir):
    s = tmp_path / "s.json"
    s.write_text(json.dumps({"format": "cardsim-witness/1", "witness": "00" * 32, "logs": {}}))
    report = api.verify(log, keys_dir, witnesses=[s]).report
    assert [(f.check, f.reason) for f in report.findings] == [("witness", "not_witnessed")]


def test_an_edited_state_fails_its_cosignature(log, tmp_path, keys_dir):
    s = tmp_path / "s.json"
    assert api.witness(log, tmp_path / "w", s, anchor_dir=keys_dir).ok
    obj = json.loads(s.read_text())
    entry = next(iter(obj["logs"].values()))
    entry["head"]["sim_time"] += 1.0
    s.write_text(json.dumps(obj))
    report = api.verify(log, keys_dir, witnesses=[s]).report
    assert [f.reason.split(":")[0] for f in report.findings] == ["bad_cosignature"]


@pytest.mark.parametrize("text", [
    "not json", "[]", json.dumps({"format": "cardsim-witness/1"}),
    json.dumps({"format": "x", "witness": "00" * 32, "logs": {}}),
    json.dumps({"format": "cardsim-witness/1", "witness": "00" * 31, "logs": {}}),
    json.dumps({"format": "cardsim-witness/1", "witness": "00" * 32, "logs": {"nothex": {}}}),
    json.dumps({"format": "cardsim-witness/1", "witness": "00" * 32, "logs": {"ab" * 32: {"head": 1, "cosignature": "00"}}}),
])
def test_malformed_state_files_are_bad_input(log, tmp_path, keys_dir, text):
    s = tmp_path / "s.json"
    s.write_text(text)
    for args in (["witness", str(log), "--keys", str(tmp_path / "w"), "--anchor", str(keys_dir),
                  "--state", str(s)],
                 ["verify", str(log), "--keys", str(keys_dir), "--witness", str(s)]):
        assert_bad_input(runner.invoke(app, args), "s.json")


def test_another_witness_state_is_refused(log, tmp_path, keys_dir):
    s = tmp_path / "s.json"
    assert api.witness(log, tmp_path / "w1", s, anchor_dir=keys_dir).ok
    r = runner.invoke(app, ["witness", str(log), "--keys", str(tmp_path / "w2"), "--anchor",
                            str(keys_dir), "--state", str(s)])
    assert_bad_input(r, "another witness")


def test_a_missing_peer_state_is_bad_input(log, tmp_path, keys_dir):
    r = runner.invoke(app, ["witness", str(log), "--keys", str(tmp_path / "w"), "--anchor",
                            str(keys_dir), "--state", str(tmp_path / "s.json"), "--peer",
                            str(tmp_path / "nope.json")])
    assert_bad_input(r, "nope.json")
    assert not (tmp_path / "s.json").exists()

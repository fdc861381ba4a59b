"""Replay: zero divergences against the log's own scenario; a changed rule shows the records it
changes; forged and cloned records are rejected by the node that defends against them."""

import csv
import json
import math
import sqlite3
import time

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.errors import CardsimError
from cardsim.audit.replay import Filters, log_scenario, replay
from cardsim.config.scenario import load

from conftest import ROOT, SCENARIOS

runner = CliRunner()


@pytest.fixture(scope="module")
def outage_log(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("replay")
    sc = load(ROOT / "scenarios" / "issuer-outage.toml",
              sets=["simulation.duration_hours=6", "simulation.start_hour=6",
                    "provinces.sichuan.issuer.outages=[[1.5, 3.0]]",
                    "provinces.sichuan.issuer.standin_limit_fen=6000",   # some tickets above it
                    "provinces.sichuan.lost_per_day=2000", "provinces.chongqing.lost_per_day=2000"],
              scale=0.06)
    api.run(sc, out=d / "o.db", keys_dir=keys_dir, workers=2)
    return d / "o.db"


def rows(path, where="1", limit=-1, args=()):
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(f"SELECT * FROM transactions WHERE {where} ORDER BY seq LIMIT {limit}",
                           args).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_self_replay_has_no_divergence(tmp_path, keys_dir, path):
    sc = load(path, sets=["simulation.duration_hours=4", "simulation.start_hour=7"], scale=0.04)
    api.run(sc, out=tmp_path / "r.db", keys_dir=keys_dir)
    r = replay(tmp_path / "r.db", keys_dir=keys_dir, workers=2)
    assert r.replayed == r.records > 0 and r.signatures_checked
    assert r.diverged == 0, r.divergences[:3]


def test_outage_log_self_replay_and_workers_agree(outage_log, keys_dir):
    a = replay(outage_log, keys_dir=keys_dir, workers=1)
    b = replay(outage_log, keys_dir=keys_dir, workers=2)
    assert a.diverged == b.diverged == 0 and a.records == b.records


def test_a_higher_standin_limit_changes_exactly_those_records(outage_log, keys_dir):
    rules = log_scenario(outage_log, ["provinces.sichuan.issuer.standin_limit_fen=20000"])
    r = replay(outage_log, rules, keys_dir=keys_dir)
    expected = {x["seq"] for x in rows(outage_log, "reason = 'standin_limit' AND amount_fen <= 20000")}
    assert expected and {d.seq for d in r.divergences} == expected
    assert all(d.node == "issuer" and d.replayed[0] == "approved" for d in r.divergences)


def test_a_blacklist_that_arrives_sooner(outage_log, keys_dir):
    """Every record of a lost card, replayed with the list pushed every minute without delay.

    An offline tap from the first push after the loss report on is declined ``blacklisted`` (a
    recorded approval diverges at the merchant, a recorded ``blacklisted`` decline stays as it
    was); earlier taps and online ones are decided as recorded; nothing else changes.
    """
    sets = [f"provinces.{p}.blacklist_push_{k}" for p in ("sichuan", "chongqing")
            for k in ("interval_s=60", "delay_s=0")]
    r = replay(outage_log, log_scenario(outage_log, sets), keys_dir=keys_dir)
    listed_from = {x["card_id"]: math.ceil(x["reported_at"] / 60) * 60 for x in _blacklist(outage_log)}
    lost_cards = rows(outage_log, f"card_id IN ({','.join('?' * len(listed_from))})", args=list(listed_from))
    diverged = {d.seq: d for d in r.divergences}
    listed = [x for x in lost_cards if x["mode"] == "offline" and x["sim_time"] >= listed_from[x["card_id"]]]
    newly = {x["seq"] for x in listed if x["outcome"] == "approved"}
    already = {x["seq"] for x in listed if x["reason"] == "blacklisted"}
    assert newly and already and newly | already == {x["seq"] for x in listed}
    assert set(diverged) == newly                       # nothing but the newly listed taps changes
    assert all(diverged[s].node == "merchant" and diverged[s].recorded[0] == "approved"
               and diverged[s].replayed[:2] == ("declined", "blacklisted") for s in newly)
    before = [x for x in lost_cards if x["mode"] == "offline" and x["sim_time"] < listed_from[x["card_id"]]]
    assert before and all(x["reason"] != "blacklisted" for x in before)


def _blacklist(path):
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT * FROM blacklist").fetchall()
    finally:
        con.close()


def test_a_higher_bus_fare(outage_log, keys_dir):
    r = replay(outage_log, log_scenario(outage_log, ["provinces.chongqing.bus.flat_fare_fen=300"]),
               keys_dir=keys_dir)
    changed = {d.seq for d in r.divergences}
    by_seq = {x["seq"]: x for x in rows(outage_log)}
    assert changed
    cards = {by_seq[s]["card_id"] for s in changed if by_seq[s]["service"] == "bus"
             and by_seq[s]["terminal_province"] == "chongqing"}
    for s in changed:       # a Chongqing bus tap, or a knock-on on a card that paid more
        row = by_seq[s]
        assert (row["service"] == "bus" and row["terminal_province"] == "chongqing") or row["card_id"] in cards
    assert r.by_kind["amount"] > 0


def test_forged_and_cloned_records_are_caught_by_their_node(tmp_path, keys_dir):
    sets = ["simulation.duration_hours=4", "simulation.start_hour=7", "attacks.cloned_cards=2",
            "attacks.foreign_key_records=3", "attacks.forged_certificates=2",
            "attacks.expired_card_uses=2"]
    api.run(load(ROOT / "scenarios" / "weekday.toml", sets=sets, scale=0.05),
            out=tmp_path / "a.db", keys_dir=keys_dir)
    truth = {s: a for a, s in sqlite3.connect(tmp_path / "a.db").execute(
        "SELECT attack, seq FROM ground_truth")}
    r = replay(tmp_path / "a.db", keys_dir=keys_dir)
    got = {d.seq: d for d in r.divergences}
    for seq, attack in truth.items():
        d = got[seq]
        want = {"foreign_key_records": ("merchant", "bad_card_signature"),
                "forged_certificates": ("merchant", "bad_card_certificate"),
                "expired_card_uses": ("merchant", "card_expired"),
                "cloned_cards": ("issuer", "atc_replay")}[attack]
        assert (d.node, d.replayed[1]) == want, attack
    assert set(got) == set(truth)


def test_filters_limit_and_diff_out(outage_log, keys_dir, tmp_path):
    r = replay(outage_log, keys_dir=keys_dir, filters=Filters(channel="government"))
    assert r.replayed == len(rows(outage_log, "channel='government'")) and r.diverged == 0
    r = replay(outage_log, keys_dir=keys_dir, filters=Filters(limit=25))
    assert r.replayed == 25
    r = replay(outage_log, keys_dir=keys_dir, filters=Filters(time_from=3600.0, time_to=7200.0,
                                                            province="chongqing"))
    assert r.replayed == len(rows(outage_log, "sim_time >= 3600 AND sim_time < 7200 AND "
                                              "terminal_province = 'chongqing'")) > 0
    card = rows(outage_log, limit=1)[0]["card_id"]
    r = replay(outage_log, keys_dir=keys_dir, filters=Filters(card=card, province=None))
    assert r.replayed == len(rows(outage_log, f"card_id='{card}'"))
    out = tmp_path / "d.csv"
    r = replay(outage_log, log_scenario(outage_log, ["provinces.sichuan.issuer.standin_limit_fen=20000"]),
               keys_dir=keys_dir, diff_out=out)
    with open(out) as f:
        body = list(csv.DictReader(f))
    assert len(body) == r.diverged and body[0]["node"] == "issuer"
    assert not (tmp_path / "d.csv.partial").exists()


def test_speed_paces_the_replay(outage_log, keys_dir):
    first = rows(outage_log, limit=40)
    span = first[-1]["sim_time"] - first[0]["sim_time"]
    t = time.perf_counter()
    replay(outage_log, keys_dir=keys_dir, filters=Filters(limit=40), speed=span / 0.4,
           check_signatures=False)
    assert time.perf_counter() - t >= 0.35


def test_cli(outage_log, keys_dir, tmp_path):
    r = runner.invoke(app, ["replay", str(outage_log), "--keys", str(keys_dir), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["diverged"] == 0
    r = runner.invoke(app, ["replay", str(outage_log), "--keys", str(keys_dir), "--set",
                            "provinces.sichuan.issuer.standin_limit_fen=20000"])
    assert r.exit_code == 1 and "divergences" in r.stdout
    for args, msg in ((["--against", "merchant,bank"], "--against: expected"),
                      (["--channel", "boat"], "--channel: must be one of"),
                      (["--province", "yunnan"], "--province: must be one of"),
                      (["--set", "provinces.sichuan.nope=1"], "unknown key"),
                      (["--scenario", str(tmp_path / "none.toml")], "no such scenario file")):
        r = runner.invoke(app, ["replay", str(outage_log), "--keys", str(keys_dir), *args])
        assert r.exit_code == 2 and msg in r.stderr, (args, r.output)
    r = runner.invoke(app, ["replay", str(tmp_path / "missing.db")])
    assert r.exit_code == 2 and "no such log file" in r.stderr
    r = runner.invoke(app, ["replay", str(outage_log), "--timing", "--json"])
    assert r.exit_code == 0 and "transactions" in json.loads(r.stdout)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, 300_000), junk=st.binary(min_size=1, max_size=32))
def test_corrupted_file_replays_or_fails_cleanly(outage_log, keys_dir, tmp_path, offset, junk):
    import shutil
    p = tmp_path / "c.db"
    shutil.copy(outage_log, p)
    with open(p, "r+b") as f:
        f.seek(offset % p.stat().st_size)
        f.write(junk)
    try:
        replay(p, keys_dir=keys_dir, filters=Filters(limit=300))
    except CardsimError as e:
        assert "\n" not in str(e)


@pytest.mark.parametrize("column,value", [("terminal_province", "'xx'"), ("decided_at", "NULL"),
                                          ("card_id", "'51'"), ("atc", "x'07'"), ("channel", "x'00'")])
def test_a_malformed_record_is_the_merchants_decline_not_a_crash(outage_log, keys_dir, tmp_path,
                                                                 column, value):
    """An outsider edits one field of one online record to a value no node can read."""
    import shutil
    p = tmp_path / "m.db"
    shutil.copy(outage_log, p)
    con = sqlite3.connect(p)
    seq = con.execute("SELECT min(seq) FROM transactions WHERE mode='online'").fetchone()[0]
    con.execute(f"UPDATE transactions SET {column} = {value} WHERE seq = ?", (seq,))
    con.commit()
    con.close()
    for workers in ("1", "2"):
        r = runner.invoke(app, ["replay", str(p), "--keys", str(keys_dir), "--json", "--quiet",
                                "--workers", workers])
        assert r.exit_code == 1, r.output
        out = json.loads(r.stdout)
        bad = [d for d in out["divergences"] if d["seq"] == seq]
        assert bad and bad[0]["replayed"]["reason"] == "malformed_record", out["divergences"][:3]
        assert out["diverged"] == 1 and out["records"] == out["replayed"] + out["skipped"]

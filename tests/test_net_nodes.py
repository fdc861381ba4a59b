"""Live nodes end to end: cardsim's issuers and hub as separate processes on loopback, driven by
``cardsim replay --target`` (cardsim.net)."""

import json
import shutil
import sqlite3
import time

import pytest

import cardsim
from conftest import ROOT, SCENARIOS
from nodes import Nodes, cardsim_cli, wait_until_serving_a_client


@pytest.fixture(scope="module")
def outage_log(tmp_path_factory, keys_dir):
    """A signed log with issuer and stand-in decisions (the Sichuan issuer's outage)."""
    sc = cardsim.load_scenario(ROOT / "scenarios" / "issuer-outage.toml", scale=0.01)
    out = tmp_path_factory.mktemp("net") / "outage.db"
    cardsim.run(sc, out, keys_dir=keys_dir, workers=1)
    return out


@pytest.fixture
def nodes():
    n = Nodes()
    yield n
    n.close()


def replay(log, keys, *targets, extra=()):
    args = ["replay", log, "--keys", keys, "--json", "--quiet", "--timeout", "2"]
    for name, node in targets:
        args += ["--target", f"{name}={node.address}"]
    r = cardsim_cli(*args, *extra)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def _kinds(log):
    conn = sqlite3.connect(log)
    try:
        return dict(conn.execute("SELECT authoriser, count(*) FROM transactions WHERE mode = "
                                 "'online' GROUP BY authoriser"))
    finally:
        conn.close()


def test_a_clean_log_replayed_against_its_issuers_matches(outage_log, keys_dir, nodes):
    kinds = _kinds(outage_log)
    assert kinds.get("issuer", 0) > 20 and kinds.get("standin", 0) > 0   # both paths exercised
    iss = nodes.issuers(outage_log, keys_dir)
    code, d, err = replay(outage_log, keys_dir, ("issuer-sichuan", iss["sichuan"]),
                          ("issuer-chongqing", iss["chongqing"]))
    assert code == 0, err
    assert d["ok"] and d["diverged"] == 0 and d["sent"] == d["selected"] == d["matched"]
    assert d["selected"] == kinds["issuer"] + kinds["standin"]
    for t in d["targets"]:
        assert t["answered"] == t["sent"] > 0 and t["bad_signatures"] == 0
        assert 0 < t["latency_ms"]["p50"] <= t["latency_ms"]["p99"] <= t["latency_ms"]["max"]


def test_the_same_requests_again_are_declined_as_replayed_counters(outage_log, keys_dir, nodes):
    iss = nodes.issuers(outage_log, keys_dir)
    targets = (("issuer-sichuan", iss["sichuan"]), ("issuer-chongqing", iss["chongqing"]))
    assert replay(outage_log, keys_dir, *targets)[0] == 0
    code, d, _ = replay(outage_log, keys_dir, *targets)
    assert code == 1 and d["diverged"] > 0
    assert {x["replayed"]["reason"] for x in d["divergences"] if x["kind"] == "outcome"} == {"atc_replay"}


def test_through_the_hub_stand_in_answers_are_the_hubs(outage_log, keys_dir, nodes):
    iss = nodes.issuers(outage_log, keys_dir)
    hub = nodes.start("hub", "--log", outage_log, "--keys", keys_dir,
                      "--route", f"sichuan={iss['sichuan'].address}",
                      "--route", f"chongqing={iss['chongqing'].address}")
    code, d, err = replay(outage_log, keys_dir, ("hub", hub))
    assert code == 0, err
    assert d["matched"] == d["selected"] > 0


def test_a_tampered_record_is_declined_for_its_cryptogram(outage_log, keys_dir, nodes, tmp_path):
    bad = tmp_path / "tampered.db"
    shutil.copy(outage_log, bad)
    conn = sqlite3.connect(bad)
    seq, = conn.execute("SELECT seq FROM transactions WHERE mode = 'online' AND authoriser = "
                        "'issuer' AND outcome = 'approved' ORDER BY seq LIMIT 1").fetchone()
    conn.execute("UPDATE transactions SET amount_fen = amount_fen + 100 WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()
    iss = nodes.issuers(outage_log, keys_dir)
    code, d, _ = replay(bad, keys_dir, ("issuer-sichuan", iss["sichuan"]),
                        ("issuer-chongqing", iss["chongqing"]))
    assert code == 1
    assert [(x["seq"], x["replayed"]["reason"], x["replayed"]["code"]) for x in d["divergences"]] == [
        (seq, "bad_card_signature", "C3")]


def test_the_hub_stands_in_when_an_issuer_is_stopped(outage_log, keys_dir, nodes):
    iss = nodes.issuers(outage_log, keys_dir)
    hub = nodes.start("hub", "--log", outage_log, "--keys", keys_dir, "--issuer-timeout", "0.5",
                      "--route", f"sichuan={iss['sichuan'].address}",
                      "--route", f"chongqing={iss['chongqing'].address}")
    assert iss["chongqing"].stop() == 0
    code, d, _ = replay(outage_log, keys_dir, ("hub", hub))
    assert code == 1                          # chongqing's issuer decisions are now stand-ins
    assert d["targets"][0]["bad_signatures"] == 0 and d["targets"][0]["timeouts"] == 0
    stood_in = [x for x in d["divergences"] if x["replayed"]["authoriser"] == "standin"]
    assert stood_in and all(x["recorded"]["authoriser"] == "issuer" for x in stood_in)
    assert any("issuer-chongqing unavailable" in line for line in hub.lines)


def test_an_issuer_killed_mid_replay_gives_exit_1_and_a_report(outage_log, keys_dir, nodes):
    iss = nodes.issuers(outage_log, keys_dir)
    import subprocess
    import sys
    args = [sys.executable, "-m", "cardsim", "replay", str(outage_log), "--keys", str(keys_dir),
            "--json", "--quiet", "--timeout", "1", "--rate", "25", "--concurrency", "2",
            "--target", f"issuer-sichuan={iss['sichuan'].address}",
            "--target", f"issuer-chongqing={iss['chongqing'].address}"]
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving_a_client(iss["sichuan"])      # the replay has started
        iss["sichuan"].kill()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert time.monotonic() - t0 < 30
    d = json.loads(out)
    sc = next(t for t in d["targets"] if t["name"] == "issuer-sichuan")
    assert sc["errors"] + sc["timeouts"] > 0 and sc["not_replayed"] > 0
    assert len(d["not_replayed_tx_ids"]) == d["not_replayed"] == sc["not_replayed"]
    cq = next(t for t in d["targets"] if t["name"] == "issuer-chongqing")
    assert cq["answered"] == cq["sent"] > 0         # the other node went on


def test_a_node_stops_cleanly_on_sigterm(outage_log, keys_dir, nodes):
    node = nodes.start("issuer", "--province", "sichuan", "--log", outage_log, "--keys", keys_dir)
    idle = node.connect()
    assert node.stop() == 0
    assert idle.recv(1) == b""               # idle connections are closed
    idle.close()


def test_an_unreachable_target_is_bad_input(outage_log, keys_dir, nodes):
    node = nodes.start("issuer", "--province", "sichuan", "--log", outage_log, "--keys", keys_dir)
    address = node.address
    node.stop()
    r = cardsim_cli("replay", outage_log, "--keys", keys_dir, "--target", f"issuer-sichuan={address}")
    assert r.returncode == 2 and "cannot be reached" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_replays_clean_against_its_own_nodes(scenario, keys_dir, nodes,
                                                                     tmp_path):
    sc = cardsim.load_scenario(scenario, scale=0.005,
                               sets=["simulation.duration_hours=8", "simulation.start_hour=7"])
    log = tmp_path / "run.db"
    cardsim.run(sc, log, keys_dir=keys_dir, workers=1)
    iss = nodes.issuers(log, keys_dir)
    hub = nodes.start("hub", "--log", log, "--keys", keys_dir,
                      "--route", f"sichuan={iss['sichuan'].address}",
                      "--route", f"chongqing={iss['chongqing'].address}")
    code, d, err = replay(log, keys_dir, ("hub", hub))
    assert code == 0, err
    assert d["selected"] > 0 and d["matched"] == d["selected"]


def test_a_node_that_hangs_mid_replay_ends_it_within_a_few_time_outs(outage_log, keys_dir, nodes):
    import os
    import signal
    import subprocess
    import sys
    iss = nodes.issuers(outage_log, keys_dir)
    args = [sys.executable, "-m", "cardsim", "replay", str(outage_log), "--keys", str(keys_dir),
            "--json", "--quiet", "--timeout", "0.5", "--rate", "25", "--concurrency", "2",
            "--target", f"issuer-sichuan={iss['sichuan'].address}",
            "--target", f"issuer-chongqing={iss['chongqing'].address}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving_a_client(iss["sichuan"])
        os.kill(iss["sichuan"].proc.pid, signal.SIGSTOP)    # connected, never answers again
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        os.kill(iss["sichuan"].proc.pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    d = json.loads(out)
    sc = next(t for t in d["targets"] if t["name"] == "issuer-sichuan")
    assert 0 < sc["timeouts"] <= 2 * 3 + 2 and sc["not_replayed"] > 0
    assert took < 20                        # the rest of the log at 40/s, not a time-out each


def _online_median_time(log) -> float:
    conn = sqlite3.connect(log)
    try:
        times = [t for (t,) in conn.execute("SELECT sim_time FROM transactions WHERE mode = "
                                            "'online' ORDER BY sim_time")]
    finally:
        conn.close()
    return times[len(times) // 2]


def test_connections_a_node_closed_while_idle_are_replaced(outage_log, keys_dir, nodes):
    iss = {p: nodes.start("issuer", "--province", p, "--log", outage_log, "--keys", keys_dir,
                          "--idle-timeout", "0.3") for p in ("sichuan", "chongqing")}
    hub = nodes.start("hub", "--log", outage_log, "--keys", keys_dir,
                      "--route", f"sichuan={iss['sichuan'].address}",
                      "--route", f"chongqing={iss['chongqing'].address}")
    split = _online_median_time(outage_log)
    code, d, err = replay(outage_log, keys_dir, ("hub", hub), extra=["--to", str(split)])
    assert code == 0, err
    time.sleep(1.0)                      # the issuers close the hub's pooled connections
    code, d, err = replay(outage_log, keys_dir, ("hub", hub), extra=["--from", str(split)])
    assert code == 0, err                # not stood in: the hub reconnected
    assert not any("unavailable" in line for line in hub.lines)
    # the replaying client too: requests 0.5 s apart on a node that closes idle ones at 0.3 s
    fresh = nodes.start("issuer", "--province", "chongqing", "--log", outage_log, "--keys",
                        keys_dir, "--idle-timeout", "0.3")
    code, d, err = replay(outage_log, keys_dir, ("issuer-chongqing", fresh),
                          extra=["--rate", "2", "--limit", "4", "--concurrency", "1"])
    assert code == 0 and d["sent"] == d["matched"] == 4, err


def test_a_node_started_from_the_scenario_decides_as_the_log_did_but_for_loss_reports(
        outage_log, keys_dir, nodes):
    node = nodes.start("issuer", "--province", "sichuan", "--keys", keys_dir,
                       "--scenario", ROOT / "scenarios" / "issuer-outage.toml")
    code, d, err = replay(outage_log, keys_dir, ("issuer-sichuan", node))
    assert d is not None, err
    assert d["targets"][0]["answered"] == d["sent"] > 0
    assert d["targets"][0]["bad_signatures"] == 0 and d["matched"] > 0
    # a scenario holds no loss reports (they come from a run): only card_lost may differ
    assert {x["recorded"]["reason"] for x in d["divergences"]} <= {"card_lost"}
    assert code == (1 if d["divergences"] else 0)


def test_serve_needs_a_log_or_a_scenario(keys_dir):
    r = cardsim_cli("serve", "issuer", "--province", "sichuan", "--keys", keys_dir)
    assert r.returncode == 2 and "--log or --scenario" in r.stderr

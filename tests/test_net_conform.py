"""``cardsim conform`` (cardsim.net.conform): passes against cardsim's own nodes, fails against
a node started with a deliberately broken rule."""

import json
import sqlite3
import subprocess
import sys

import pytest

import cardsim
from conftest import QUICK, ROOT
from nodes import Node, Nodes, cardsim_cli

CASES = {"echo (0800)", "bad cryptogram", "valid request", "replayed ATC", "lost card",
         "expired card certificate", "malformed message", "oversized frame"}


@pytest.fixture(scope="module")
def log(tmp_path_factory, keys_dir):
    """A log with loss reports in both provinces."""
    sc = cardsim.load_scenario(ROOT / "scenarios" / "weekday.toml", scale=0.01, sets=[
        *QUICK, "provinces.sichuan.lost_per_day=4000", "provinces.chongqing.lost_per_day=4000"])
    out = tmp_path_factory.mktemp("conform") / "w.db"
    cardsim.run(sc, out, keys_dir=keys_dir, workers=1)
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT count(*) FROM blacklist").fetchone()[0] > 0
    conn.close()
    return out


@pytest.fixture
def nodes():
    n = Nodes()
    yield n
    n.close()


def conform(target, node, log, keys):
    r = cardsim_cli("conform", "--target", f"{target}={node.address}", "--log", log, "--keys",
                    keys, "--json")
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else None, r.stderr


def test_conform_passes_against_cardsims_issuer(log, keys_dir, nodes):
    node = nodes.start("issuer", "--province", "sichuan", "--log", log, "--keys", keys_dir)
    code, d, err = conform("issuer-sichuan", node, log, keys_dir)
    assert code == 0, err
    assert {c["case"] for c in d["cases"]} == CASES
    assert all(c["status"] == "pass" for c in d["cases"]), d["cases"]


def test_conform_passes_against_cardsims_hub(log, keys_dir, nodes):
    iss = nodes.issuers(log, keys_dir)
    hub = nodes.start("hub", "--log", log, "--keys", keys_dir,
                      "--route", f"sichuan={iss['sichuan'].address}",
                      "--route", f"chongqing={iss['chongqing'].address}")
    code, d, err = conform("hub", hub, log, keys_dir)
    assert code == 0, err
    assert d["passed"] == len(CASES) and d["failed"] == 0


BROKEN = """
import sys
from cardsim.model.issuer import Issuer
def decide(self, card, atc, amount, now):      # forgets the counter: replays are approved
    return "card_lost" if card.lost_at is not None and now >= card.lost_at else None
Issuer.decide = decide
sys.argv = ["cardsim", *sys.argv[1:]]
from cardsim.cli.app import main
main()
"""


def test_conform_fails_against_a_node_with_a_broken_rule(log, keys_dir, tmp_path):
    script = tmp_path / "broken_node.py"
    script.write_text(BROKEN)
    node = Node.__new__(Node)
    proc = subprocess.Popen([sys.executable, str(script), "serve", "issuer", "--province",
                             "sichuan", "--log", str(log), "--keys", str(keys_dir), "--listen",
                             "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    try:
        Node.attach(node, proc)
        code, d, _ = conform("issuer-sichuan", node, log, keys_dir)
        assert code == 1
        status = {c["case"]: c["status"] for c in d["cases"]}
        assert status.pop("replayed ATC") == "FAIL"
        assert set(status.values()) == {"pass"}
    finally:
        proc.kill()
        proc.wait(10)


def test_conform_against_nothing_is_bad_input(log, keys_dir):
    r = cardsim_cli("conform", "--target", "issuer-sichuan=127.0.0.1:1", "--log", log, "--keys",
                    keys_dir)
    assert r.returncode == 2 and "cannot be reached" in r.stderr

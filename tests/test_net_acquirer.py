"""The acquirer node (cardsim.net.acquirer): it forwards its terminals' online requests and
uploads through the hub; the card's issuer clears the uploads, and a cloned card's repeated
counter is refused at clearing."""

import socket
import sqlite3
import struct

import pytest

import cardsim
from cardsim.net import messages as M
from cardsim.net.framing import frame
from cardsim.records.record import INDEX, Record
from conftest import QUICK, ROOT
from nodes import Nodes
from test_net_nodes import replay


@pytest.fixture(scope="module")
def cloned_log(tmp_path_factory, keys_dir):
    sc = cardsim.load_scenario(ROOT / "scenarios" / "weekday.toml", scale=0.01,
                               sets=[*QUICK, "attacks.cloned_cards=1"])
    out = tmp_path_factory.mktemp("acq") / "w.db"
    cardsim.run(sc, out, keys_dir=keys_dir, workers=1)
    return out


def clone_pair(log):
    """(genuine, clone) records (seq, merchant) of a card's counter used twice."""
    conn = sqlite3.connect(log)
    try:
        rows = conn.execute(
            "SELECT a.seq, a.merchant_id, b.seq, b.merchant_id FROM transactions a JOIN "
            "transactions b ON a.card_id = b.card_id AND a.atc = b.atc AND a.seq < b.seq "
            "WHERE a.outcome = 'approved' AND b.outcome = 'approved' AND b.mode = 'offline' "
            "ORDER BY b.seq LIMIT 1").fetchall()
    finally:
        conn.close()
    assert rows, "the attack made no clone"
    a, ma, b, mb = rows[0]
    return (a, ma), (b, mb)


@pytest.fixture
def network(cloned_log, keys_dir):
    nodes = Nodes()
    try:
        iss = nodes.issuers(cloned_log, keys_dir)
        hub = nodes.start("hub", "--log", cloned_log, "--keys", keys_dir,
                          "--route", f"sichuan={iss['sichuan'].address}",
                          "--route", f"chongqing={iss['chongqing'].address}")
        yield nodes, hub
    finally:
        nodes.close()


def acquirers(nodes, hub, log, keys, merchants):
    return [(f"acquirer-{m}", nodes.start("acquirer", "--merchant", m, "--log", log, "--keys",
                                          keys, "--route", hub.address)) for m in merchants]


def test_a_clone_is_refused_at_clearing_as_in_process_replay_refuses_it(cloned_log, keys_dir,
                                                                         network):
    nodes, hub = network
    (_genuine, _m1), (clone, _m2) = clone_pair(cloned_log)
    card = _card(cloned_log, clone)
    targets = acquirers(nodes, hub, cloned_log, keys_dir, _merchants(cloned_log, card))
    code, d, err = replay(cloned_log, keys_dir, *targets, ("hub", hub), extra=["--card", card])
    assert code == 1, err
    live = {(x["seq"], x["replayed"]["code"]) for x in d["divergences"]}
    assert (clone, "94") in live
    in_process = cardsim.replay(cloned_log, keys_dir=keys_dir, card=card, workers=1)
    assert live == {(x.seq, "94") for x in in_process.divergences
                    if x.replayed[1] == "atc_replay"}
    assert d["matched"] == d["sent"] - len(live)
    assert all(t["bad_signatures"] == 0 for t in d["targets"])


def test_a_clean_merchant_replays_through_its_acquirer(cloned_log, keys_dir, network):
    nodes, hub = network
    targets = acquirers(nodes, hub, cloned_log, keys_dir, ["sichuan-metro", "sichuan-scenic-gate"])
    code, d, err = replay(cloned_log, keys_dir, *targets, extra=["--province", "sichuan",
                                                                 "--channel", "tourism"])
    assert code == 0, err
    assert d["sent"] == d["matched"] > 0
    code, d, err = replay(cloned_log, keys_dir, *targets, extra=["--province", "sichuan",
                                                                 "--channel", "transit",
                                                                 "--limit", "300"])
    assert d["sent"] == 300 and d["targets"][0]["answered"] == 300


def test_an_acquirer_refuses_another_merchants_terminal(cloned_log, keys_dir, network):
    nodes, hub = network
    (_name, node), = acquirers(nodes, hub, cloned_log, keys_dir, ["chongqing-bus"])
    conn = sqlite3.connect(cloned_log)
    try:
        row = conn.execute("SELECT * FROM transactions WHERE merchant_id = 'sichuan-metro' AND "
                           "outcome = 'approved' LIMIT 1").fetchone()
        cert = conn.execute("SELECT body, signature FROM certificates WHERE subject = ?",
                            (row[INDEX["card_id"]],)).fetchone()
    finally:
        conn.close()
    req = M.AuthRequest.from_record(Record._make(row), 0, "000123", cert)
    with node.connect() as s:
        s.sendall(frame(req.encode(M.UPLOAD)))
        n = struct.unpack(">H", s.recv(2))[0]
        doc = M.decode(s.recv(n, socket.MSG_WAITALL))
    assert (doc["t"], doc["39"], doc["11"]) == ("0330", "03", "000123")


def _card(log, seq):
    conn = sqlite3.connect(log)
    try:
        return conn.execute("SELECT card_id FROM transactions WHERE seq = ?", (seq,)).fetchone()[0]
    finally:
        conn.close()


def _merchants(log, card):
    conn = sqlite3.connect(log)
    try:
        return [m for (m,) in conn.execute("SELECT DISTINCT merchant_id FROM transactions WHERE "
                                           "card_id = ? AND mode = 'offline'", (card,))]
    finally:
        conn.close()

"""The hub (cardsim.net.hub), in process against a stand-in issuer that records what it gets:
routing by the card's province, stand-in on 91 with the hub's signature, and the 0120 advice."""

import asyncio
import sqlite3

import pytest

import cardsim
from cardsim.net import messages as M
from cardsim.net.answers import NodeKeys
from cardsim.net.codes import code_of
from cardsim.net.hub import HubService
from cardsim.net.node import load_node
from cardsim.net.server import NodeServer
from cardsim.records.record import INDEX, Record
from conftest import QUICK, ROOT


@pytest.fixture(scope="module")
def log(tmp_path_factory, keys_dir):
    sc = cardsim.load_scenario(ROOT / "scenarios" / "weekday.toml", scale=0.005, sets=QUICK)
    out = tmp_path_factory.mktemp("hub") / "w.db"
    cardsim.run(sc, out, keys_dir=keys_dir, workers=1)
    return out


def online_request(log, epoch):
    conn = sqlite3.connect(log)
    try:
        row = conn.execute("SELECT * FROM transactions WHERE mode = 'online' AND authoriser = "
                           "'issuer' AND outcome = 'approved' AND card_province = 'sichuan' "
                           "LIMIT 1").fetchone()
        cert = conn.execute("SELECT body, signature FROM certificates WHERE subject = ?",
                            (row[INDEX["card_id"]],)).fetchone()
    finally:
        conn.close()
    return M.AuthRequest.from_record(Record._make(row[:len(Record._fields)]), epoch, "000007", cert)


def test_the_hub_stands_in_on_91_signs_it_and_advises_the_issuer(log, keys_dir):
    state = load_node(log, keys_dir, ["hub"])
    req = online_request(log, state.epoch)
    got: list[dict] = []

    async def issuer(doc):                     # an issuer in an outage
        got.append(doc)
        mti = {"0100": "0110", "0120": "0130"}[doc["t"]]
        return M.reply(doc, mti, "91" if mti == "0110" else "00")

    async def go():
        fake = NodeServer("issuer-sichuan", issuer, log=lambda line: None)
        host, port = await fake.start("127.0.0.1", 0)
        hub = HubService(state, {"sichuan": (host, port)}, 1.0)
        answer = M.parse_response(M.decode(await hub.handle(M.decode(req.encode()))))
        for _ in range(100):
            if len(got) == 2:
                break
            await asyncio.sleep(0.02)
        await fake.stop()
        return answer

    answer = asyncio.run(go())
    nodes = state.nodes                         # the simulation's stand-in policy decides
    want = nodes.issuers["sichuan"].stand_in(nodes.card(req.card_id), req.amount_fen, req.channel,
                                             req.decided_at, nodes.blacklist, req.terminal_province)
    assert (answer.code, answer.signer, answer.authoriser) == (code_of(want), "hub", "standin")
    assert NodeKeys(keys_dir, state.algorithm.name).valid(req, answer) is None
    assert [d["t"] for d in got] == ["0100", "0120"]
    advice = M.parse_request(got[1])
    assert (got[1]["39"], advice.card_id, advice.atc) == (code_of(want), req.card_id, req.atc)


def test_the_hub_relays_an_issuers_answer_unchanged(log, keys_dir):
    state = load_node(log, keys_dir, ["hub"])
    req = online_request(log, state.epoch)
    canned = M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen, "41",
                            "issuer-sichuan", "issuer", req.decided_at, b"\x01" * 64).encode()

    async def issuer(doc):
        return canned

    async def go():
        fake = NodeServer("issuer-sichuan", issuer, log=lambda line: None)
        host, port = await fake.start("127.0.0.1", 0)
        out = await HubService(state, {"sichuan": (host, port)}, 1.0).handle(M.decode(req.encode()))
        await fake.stop()
        return out

    assert asyncio.run(go()) == canned

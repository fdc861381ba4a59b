"""Decision rules of the merchant, issuer and hub nodes, and the steps around them."""

import sqlite3

import numpy as np
import pytest
import simpy

from cardsim import api
from cardsim.audit.replay import replay
from cardsim.config.scenario import load, loads
from cardsim.model.blacklist import Blacklist
from cardsim.model.card import Card
from cardsim.model.fares import Calendar
from cardsim.model.hub import Hub
from cardsim.model.issuer import Issuer
from cardsim.model.merchant import Merchant
from cardsim.model.simulation import Simulation
from cardsim.records.record import MODEL_COLUMN_NAMES, Record, merchant_id_for
from cardsim.signing.keys import merchant_ids

from conftest import ROOT


def card(province="sichuan", balance=500):
    return Card(province, 1, "adult", balance, 10, 0)


BL = Blacklist({"sichuan": 900.0, "chongqing": 600.0}, {"sichuan": 3600.0, "chongqing": 1800.0})


def test_blacklist_reaches_terminals_at_the_next_push():
    assert BL.reaches(100.0, "sichuan", "sichuan") == 3600.0      # 100 + 900 -> next hour
    assert BL.reaches(3000.0, "sichuan", "sichuan") == 7200.0
    assert BL.reaches(100.0, "sichuan", "chongqing") == 1800.0    # other province's schedule
    c = card()
    assert not BL.listed(c, "sichuan", 1e9)
    c.lost_at = 100.0
    assert not BL.listed(c, "sichuan", 3599.0) and BL.listed(c, "sichuan", 3600.0)


def merchant(stype="metro", province="sichuan", upload=900.0, **fares):
    pcfg = loads("").config["provinces"][province]
    pcfg[stype]["upload_interval_s"] = upload
    pcfg["fares"].update(fares)
    return Merchant(province, stype, pcfg, BL, Calendar("2026-11-02", 0.0))


def test_offline_rule():
    m = merchant()
    c = card(balance=300)
    assert m.decide_offline(c, 300, 0.0) is None
    assert m.decide_offline(c, 301, 0.0) == "insufficient_balance"
    c.lost_at = 0.0
    assert m.decide_offline(c, 100, 1000.0) is None          # lost, list not yet at the gate
    assert m.decide_offline(c, 100, 3600.0) == "blacklisted"


def test_upload_time():
    assert merchant().upload_time(100.0) == 900.0
    assert merchant().upload_time(900.0) == 1800.0
    assert merchant("gov_window", upload=0.0).upload_time(123.0) == 123.0


def test_merchant_ids_have_one_format():
    assert merchant_id_for("chongqing", "scenic_gate") == "chongqing-scenic-gate"
    assert merchant("gov_window").merchant_id == "sichuan-gov-window"
    assert "chongqing-scenic-gate" in merchant_ids() and len(merchant_ids()) == 8


def test_base_fare_by_band_with_a_flat_fallback_and_bus_flat():
    m = merchant()
    m.fares.banded, m.fares.band_km, m.fares.band_fare = True, [6.0, 11.0, 1e9], [200, 300, 400]
    m.fares.flat_metro = 250
    assert (m.base_fare(5.0), m.base_fare(6.5), m.base_fare(30.0)) == (200, 300, 400)
    assert m.base_fare(None) == 250 and m.base_fare("junk") == 250   # no usable trip length
    bus = merchant("bus")
    assert bus.base_fare(5.0) == bus.base_fare(None) == bus.fares.bus_fare


def test_an_approved_tap_charges_the_card_a_declined_one_does_not():
    m = merchant(transfer_window_s=3600.0, transfer_discount_fen=200, card_discount_pct=0.0)
    c = card(balance=500)
    assert m.tap(c, 300, 10.0) == (300, None, None)
    assert (c.balance_fen, c.last_transit_mode, c.last_transit_t) == (200, "sichuan/metro", 10.0)
    assert m.tap(c, 300, 20.0) == (300, None, "insufficient_balance")
    assert (c.balance_fen, c.last_transit_t) == (200, 10.0)           # untouched
    bus = merchant("bus", transfer_window_s=3600.0, transfer_discount_fen=200, card_discount_pct=0.0)
    assert bus.tap(c, 300, 30.0) == (100, "transfer", None)            # bus after metro
    assert (c.balance_fen, c.last_transit_mode, c.last_paid) == (100, "sichuan/bus", 100)


def test_a_senior_free_ride_takes_one_from_the_quota():
    m = merchant(senior_free_rides=True)
    c = Card("sichuan", 2, "senior", 0, 10, 2)
    assert m.tap(c, 300, 0.0) == (0, "senior_quota", None) and c.quota_left == 1
    m.charge(c, 0, "senior_quota", 5.0)                 # as a log records it: same effect
    assert c.quota_left == 0 and c.last_transit_t == 5.0
    assert m.tap(c, 300, 10.0)[2] == "insufficient_balance"   # quota spent, no stored value


def test_online_prices():
    gate = merchant("scenic_gate")
    gate.prices.update(ticket_fen=10000, cardholder_discount_pct=20.0, senior_free=True)
    assert gate.price_online(card()) == (8000, "cardholder")
    assert gate.price_online(Card("sichuan", 3, "senior", 0, 1, 0)) == (0, "senior_free")
    window = merchant("gov_window")
    window.prices["fee_fen"] = 700
    assert window.price_online(card()) == (700, None)


def issuer(**over):
    icfg = loads("").config["provinces"]["sichuan"]["issuer"]
    icfg.update(over)
    return Issuer(simpy.Environment(), "sichuan", icfg, np.random.default_rng(1))


def test_issuer_rule():
    iss = issuer(atc_max_jump=10)
    c = card()
    assert iss.decide(c, 11, 100, 5.0) is None
    assert iss.decide(c, 11, 100, 6.0) == "atc_replay"     # same counter again
    assert iss.decide(c, 9, 100, 7.0) == "atc_replay"      # counter went back
    assert iss.decide(c, 40, 100, 8.0) == "atc_jump"
    assert iss.decide(c, 41, 100, 9.0) is None
    c.lost_at = 10.0
    assert iss.decide(c, 42, 100, 10.0) == "card_lost"


def test_issuer_outage_and_standin():
    iss = issuer(outages=[[1.0, 2.0]], standin="limit", standin_limit_fen=5000)
    assert not iss.down(3599.0) and iss.down(3600.0) and not iss.down(7200.0)
    c = card()
    assert iss.stand_in(c, 5000, "tourism", 4000.0, BL, "sichuan") is None
    assert iss.stand_in(c, 5001, "tourism", 4000.0, BL, "sichuan") == "standin_limit"
    assert iss.stand_in(c, 0, "government", 4000.0, BL, "sichuan") == "issuer_unavailable"
    c.lost_at = 0.0
    assert iss.stand_in(c, 100, "tourism", 4000.0, BL, "sichuan") == "blacklisted"
    assert issuer(standin="decline").stand_in(card(), 1, "tourism", 0.0, BL, "sichuan") == "issuer_unavailable"


def test_respond_is_the_stand_in_while_down_else_the_issuer():
    iss = issuer(outages=[[1.0, 2.0]], standin="limit", standin_limit_fen=5000)
    c = card()
    assert iss.respond(c, 11, 6000, "tourism", 100.0, BL, "sichuan") == (None, "issuer")
    assert iss.respond(c, 12, 6000, "tourism", 4000.0, BL, "sichuan") == ("standin_limit", "standin")
    assert iss.respond(c, 12, 100, "government", 4000.0, BL, "chongqing") == ("issuer_unavailable",
                                                                             "standin")
    assert iss.last_atc[c.card_id] == 11                 # the stand-in does not see the counter


def test_back_office_clearing_rejects_a_counter_seen_before():
    iss = issuer()
    c, twin = card(), card()                   # a clone: same card, another chip
    assert iss.clear_offline(c, 11) is None and iss.clear_offline(c, 12) is None
    assert iss.clear_offline(twin, 12) == "atc_replay"
    assert iss.clear_offline(card("sichuan"), 10) == "atc_replay"
    assert iss.clear_offline(Card("sichuan", 9, "adult", 0, 1, 0), 10) is None   # another card


def test_authorise_timing_and_an_outage_during_processing():
    env = simpy.Environment()
    icfg = loads("").config["provinces"]["sichuan"]["issuer"]
    icfg.update(latency_s=0.5, outages=[[1.0 / 3600.0, 2.0]], standin="limit", standin_limit_fen=5000,
                service_time={"dist": "deterministic", "mean": 2.0})
    iss = Issuer(env, "sichuan", icfg, np.random.default_rng(1))
    hub = Hub(env, loads("").config["hub"], np.random.default_rng(1))
    m = merchant("scenic_gate")
    p = env.process(m.authorise(env, card(), 11, 100, "tourism", {"sichuan": iss}, hub))
    env.run()
    # sent at 0, at the issuer at 0.5, done at 2.5: the outage began at 1 -> stand-in at once
    assert p.value == (None, "standin", 2.5) and env.now == 2.5


def test_hub_clearing_nets_positions():
    hub = Hub(simpy.Environment(), loads("").config["hub"], np.random.default_rng(1))
    hub.clear("sichuan", "chongqing", 500)
    hub.clear("sichuan", "chongqing", 300)
    hub.clear("chongqing", "sichuan", 200)
    c = hub.clearing()
    assert c["gross_fen"] == {"sichuan->chongqing": 800, "chongqing->sichuan": 200}
    assert c["net_fen"] == {"sichuan": -600, "chongqing": 600}
    assert c["net_yuan"]["chongqing"] == 6.0
    assert c["transactions"]["sichuan->chongqing"] == 2


# --- one rule, changed through the node layer: the simulation and replay both follow ------------

_PAD = (None,) * (len(Record._fields) - len(MODEL_COLUMN_NAMES))


def record(row: tuple) -> Record:
    """A model row (or a log row cut to the model's columns) as a Record, signatures null."""
    return Record._make(row[:len(MODEL_COLUMN_NAMES)] + _PAD)


@pytest.fixture(scope="module")
def outage_run(tmp_path_factory):
    """An unsigned log of a short run with an outage and many loss reports, and its scenario."""
    sc = load(ROOT / "scenarios" / "issuer-outage.toml",
              sets=["simulation.duration_hours=6", "simulation.start_hour=6",
                    "provinces.sichuan.issuer.outages=[[1.5, 3.0]]",
                    "provinces.sichuan.issuer.standin_limit_fen=6000",   # some tickets above it
                    "provinces.sichuan.lost_per_day=3000", "provinces.chongqing.lost_per_day=3000"],
              scale=0.04)
    path = tmp_path_factory.mktemp("nodes") / "o.db"
    api.run(sc, out=path, sign=False, workers=1)
    con = sqlite3.connect(path)
    try:
        logged = [record(r) for r in con.execute("SELECT * FROM transactions ORDER BY seq")]
    finally:
        con.close()
    return sc, path, logged


def simulated(sc) -> list[Record]:
    out: list[tuple] = []
    Simulation(sc, sink=lambda batch, _marks: out.extend(batch)).run()
    return [record(r) for r in out]


def test_a_stricter_stand_in_policy_changes_the_simulation_and_replay_alike(outage_run, monkeypatch):
    sc, path, logged = outage_run
    monkeypatch.setattr(Issuer, "stand_in", lambda *a: "issuer_unavailable")
    standin = [r for r in logged if r.authoriser == "standin"]
    changed = {r.seq for r in standin if r.reason != "issuer_unavailable"}
    assert any(r.outcome == "approved" for r in standin) and any(r.reason for r in standin)
    # the simulation: every stand-in decision is now this decline, everything else is unchanged
    expect = [r._replace(outcome="declined", reason="issuer_unavailable")
              if r.authoriser == "standin" else r for r in logged]
    assert simulated(sc) == expect
    # replay, against the same log: the stand-in decisions that change diverge, nothing else
    result = replay(path, workers=1)
    assert {d.seq for d in result.divergences} == changed
    assert {(d.node, d.replayed) for d in result.divergences} == {
        ("issuer", ("declined", "issuer_unavailable", 0))}


def test_a_changed_offline_rule_changes_the_simulation_and_replay_alike(outage_run, monkeypatch):
    sc, path, logged = outage_run
    rule = Merchant.decide_offline
    monkeypatch.setattr(Merchant, "decide_offline", lambda self, card, amount, now: (
        "blacklisted" if card.category == "student" else rule(self, card, amount, now)))
    offline = [r for r in logged if r.mode == "offline" and r.category == "student"]
    assert any(r.outcome == "approved" for r in offline)
    # the simulation: no student tap is approved any more; the rule's reason says why
    rows = simulated(sc)
    students = [r for r in rows if r.mode == "offline" and r.category == "student"]
    assert students and {(r.outcome, r.reason) for r in students} == {("declined", "blacklisted")}
    assert any(r.outcome == "approved" for r in rows if r.mode == "offline")
    # replay: every student tap not already declined as blacklisted diverges, nothing else
    result = replay(path, workers=1)
    assert {d.seq for d in result.divergences} == {r.seq for r in offline if r.reason != "blacklisted"}
    assert all(d.node == "merchant" and d.replayed[1] == "blacklisted" for d in result.divergences)

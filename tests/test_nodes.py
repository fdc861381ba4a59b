"""Decision rules of the merchant, issuer and hub nodes."""

import simpy

from cardsim.model.card import Card
from cardsim.model.hub import Hub
from cardsim.model.issuer import Issuer
from cardsim.model.blacklist import Blacklist
from cardsim.model.merchant import Merchant
from cardsim.config.scenario import loads
import numpy as np


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


def test_offline_rule():
    m = Merchant("sichuan-metro", "sichuan", "metro", 900.0, BL)
    c = card(balance=300)
    assert m.decide_offline(c, 300, 0.0) is None
    assert m.decide_offline(c, 301, 0.0) == "insufficient_balance"
    c.lost_at = 0.0
    assert m.decide_offline(c, 100, 1000.0) is None          # lost, list not yet at the gate
    assert m.decide_offline(c, 100, 3600.0) == "blacklisted"


def test_upload_time():
    assert Merchant("m", "sichuan", "metro", 900.0, BL).upload_time(100.0) == 900.0
    assert Merchant("m", "sichuan", "metro", 900.0, BL).upload_time(900.0) == 1800.0
    assert Merchant("m", "sichuan", "gov_window", 0.0, BL).upload_time(123.0) == 123.0


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

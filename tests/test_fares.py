from cardsim.model.card import Card
from cardsim.model.fares import TransitFares, ticket_price
from cardsim.config.scenario import loads


def fares(**over):
    cfg = loads("").config["provinces"]["chongqing"]
    for k, v in over.items():
        cfg["fares"][k] = v
    return TransitFares(cfg), cfg


def card(category="adult", quota=0):
    return Card("chongqing", 1, category, 5000, 10, quota)


def test_banded_metro_fare():
    f, _ = fares()
    assert f.metro_base(0.5) == 200
    assert f.metro_base(4.0) == 200      # band bounds are inclusive upper bounds
    assert f.metro_base(4.01) == 300
    assert f.metro_base(100.0) == 800    # beyond the last band


def test_flat_metro_fare():
    cfg = loads("", sets=["provinces.chongqing.metro.fare_rule=flat",
                          "provinces.chongqing.metro.flat_fare_fen=250"]).config["provinces"]["chongqing"]
    assert TransitFares(cfg).metro_base(30.0) == 250


def test_student_discount_is_integer_fen():
    f, _ = fares(student_discount_pct=50.0)
    assert f.price(card("student"), "metro", 300, 0.0) == (150, "student")
    f, _ = fares(student_discount_pct=33.0)
    assert f.price(card("student"), "metro", 300, 0.0) == (201, "student")


def test_transfer_within_the_window():
    f, _ = fares(transfer_window_s=3600.0, transfer_discount_fen=200)
    c = card()
    c.last_transit_mode, c.last_transit_t = "bus", 1000.0
    assert f.price(c, "metro", 300, 1000.0 + 3600.0) == (100, "transfer")
    assert f.price(c, "metro", 300, 1000.0 + 3601.0) == (300, None)
    assert f.price(c, "bus", 200, 1500.0) == (200, None)       # same mode: no transfer
    c.last_transit_mode = "metro"
    assert f.price(c, "bus", 200, 1500.0) == (0, "transfer")   # up to 2 yuan free


def test_senior_quota():
    f, _ = fares(senior_free_rides=True)
    assert f.price(card("senior", quota=3), "bus", 200, 0.0) == (0, "senior_quota")
    assert f.price(card("senior", quota=0), "bus", 200, 0.0) == (200, None)
    f, _ = fares(senior_free_rides=False)
    assert f.price(card("senior", quota=3), "bus", 200, 0.0) == (200, None)


def test_ticket_price():
    g = {"ticket_fen": 6000, "cardholder_discount_pct": 10.0, "senior_free": True}
    assert ticket_price(card(), g) == (5400, "cardholder")
    assert ticket_price(card("senior"), g) == (0, "senior_free")
    assert ticket_price(card(), dict(g, cardholder_discount_pct=0.0)) == (6000, None)

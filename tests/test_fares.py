"""Each city's fare rules (cardsim.model.fares), against the sourced tables in docs/sources.md."""

import pytest

from cardsim.config.scenario import loads
from cardsim.model.card import Card
from cardsim.model.fares import Calendar, TransitFares, ticket_price

CAL = Calendar("2026-11-02", 0.0)


def fares(province="chongqing", cal=CAL, **over):
    cfg = loads("").config["provinces"][province]
    for k, v in over.items():
        cfg["fares"][k] = v
    return TransitFares(cfg, province, cal), cfg


def card(category="adult", province="chongqing", quota=0, balance=10_000):
    return Card(province, 1, category, balance, 1, quota, 1)


def tap(f, c, mode, base, now):
    """Price a tap and apply it, as an approved tap does."""
    amount, conc = f.price(c, mode, base, now)
    c.balance_fen -= amount
    f.apply(c, amount, conc, now, mode)
    return amount, conc


@pytest.mark.parametrize("km, fen", [(0.5, 200), (5.0, 200), (6.0, 200), (6.1, 300), (11.0, 300),
                                     (17.0, 400), (24.0, 500), (32.0, 600), (33.0, 700),
                                     (50.0, 700), (90.0, 700)])
def test_chongqing_rail_fares_by_band_capped_at_7_yuan(km, fen):
    f, _ = fares("chongqing")
    assert f.metro_base(km) == fen


@pytest.mark.parametrize("km, fen", [(4.0, 200), (5.0, 300), (12.0, 400), (18.0, 500),
                                     (24.0, 600), (32.0, 700), (40.0, 800), (50.0, 900),
                                     (70.0, 1000), (90.0, 1100), (110.0, 1200), (130.0, 1300)])
def test_chengdu_metro_fares_to_the_end_of_the_network(km, fen):
    f, _ = fares("sichuan")
    assert f.metro_base(km) == fen


def test_flat_metro_fare():
    cfg = loads("", sets=["provinces.sichuan.metro.fare_rule=\"flat\"",
                          "provinces.sichuan.metro.flat_fare_fen=250"]).config["provinces"]["sichuan"]
    assert TransitFares(cfg, "sichuan", CAL).metro_base(30.0) == 250


def test_card_and_student_discounts_are_integer_fen():
    f, _ = fares("sichuan")
    assert f.price(card(province="sichuan"), "metro", 300, 0.0) == (270, None)   # 9折 card price
    assert f.price(card("student", "sichuan"), "metro", 301, 0.0) == (150, "student")


def test_chongqing_transfer_bus_rail_and_bus_bus_alternate_and_capped():
    f, _ = fares("chongqing")
    c = card()
    assert tap(f, c, "metro", 300, 0.0) == (270, None)
    assert tap(f, c, "bus", 200, 1000.0) == (0, "transfer")       # 180 after rail: free
    assert tap(f, c, "bus", 200, 1500.0) == (180, None)           # no chaining: one per paid tap
    assert tap(f, c, "bus", 200, 2000.0) == (0, "transfer")       # bus -> bus within the hour
    assert tap(f, c, "metro", 500, 9000.0) == (450, None)         # window over
    c2 = card()
    tap(f, c2, "bus", 100, 0.0)                                    # a 1-yuan bus: 90 paid
    assert tap(f, c2, "metro", 500, 600.0) == (360, "transfer")   # discount <= the 90 paid


def test_chongqing_transfer_only_for_full_fares_and_only_in_chongqing():
    f, _ = fares("chongqing")
    s = card("student")
    tap(f, s, "metro", 300, 0.0)
    assert f.price(s, "bus", 200, 100.0) == (100, "student")     # concession cards: no transfer
    sc, _ = fares("sichuan")
    c = card(province="sichuan")
    tap(sc, c, "metro", 300, 0.0)
    assert sc.price(c, "bus", 200, 100.0) == (180, None)         # Chengdu: no transfer discount
    assert f.price(c, "bus", 200, 200.0) == (180, None)          # a Chengdu tap starts none here


def test_chongqing_seniors_free_for_its_own_cards_only():
    f, _ = fares("chongqing")
    assert f.price(card("senior", quota=5), "bus", 200, 0.0) == (0, "senior_quota")
    assert f.price(card("senior", "sichuan", quota=5), "bus", 200, 0.0) == (180, None)


def test_senior_quota_extends_repeatedly_and_resets_on_1_january():
    cal = Calendar("2026-12-31", 0.0)
    f, _ = fares("chongqing", cal, senior_quota_per_year=2, senior_quota_extension=1,
                 senior_quota_extensions=2)
    c = Card("chongqing", 1, "senior", 0, 1, 1, 2)          # 1 ride left, 2 extensions left
    for t in (0.0, 10.0, 20.0):                                # the ride left, then 2 extensions
        assert tap(f, c, "bus", 200, t) == (0, "senior_quota")
    assert c.ext_left == 0 and c.quota_left == 0
    assert f.price(c, "bus", 200, 30.0) == (180, None)        # used up this year
    new_year = 86400.0 + 60                                    # 1 January 2027, 00:01
    assert cal.year_of(new_year) == 2027 and cal.year_of(86399.0) == 2026
    assert tap(f, c, "bus", 200, new_year) == (0, "senior_quota")
    assert (c.quota_left, c.ext_left, c.quota_year) == (1, 2, 2027)


def test_chengdu_seniors_ride_free_off_peak_only():
    f, _ = fares("sichuan")
    s = card("senior", "sichuan", quota=10)
    assert f.price(s, "metro", 300, 11 * 3600.0) == (0, "senior_quota")
    assert f.price(s, "metro", 300, 8 * 3600.0) == (270, None)    # 08:00, the morning peak


def test_ticket_price():
    g = loads("").config["provinces"]["chongqing"]["scenic_gate"]
    assert ticket_price(card(), g) == (5400, "cardholder")
    assert ticket_price(card(), g, 12_500) == (11_250, "cardholder")
    assert ticket_price(card("senior"), g) == (0, "senior_free")
    assert ticket_price(card(), dict(g, cardholder_discount_pct=0.0)) == (6000, None)

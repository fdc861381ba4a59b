"""Holders and their day (cardsim.model.holders, cardsim.model.demand): counts from the cited
volumes, streams, first departures, the profiles they follow, tour groups."""

import numpy as np
import pytest

from cardsim.config.scenario import load, loads
from cardsim.model.demand import build_groups
from cardsim.model.holders import (
    GOVERNMENT_ITEMS, BlockStream, HashStream, Profile, card_journeys, first_uniforms,
    government_item, holder_keys, mode_shares, uniforms,
)
from cardsim.model.places import all_points
from cardsim.model.streams import Streams

from conftest import ROOT


def test_government_items():
    assert len(GOVERNMENT_ITEMS) == 24 and GOVERNMENT_ITEMS[0] == "pension_transfer"
    assert government_item(30) == "item_031"


def test_vectorised_first_draws_are_the_holders_own_stream_bit_for_bit():
    keys = holder_keys(987654321, 50, day=2)
    u1, u2 = first_uniforms(keys)
    block = uniforms(keys, 6)
    for i in (0, 17, 49):
        s = HashStream(int(keys[i]))
        draws = [s.u() for _ in range(8)]
        assert draws[:2] == [u1[i], u2[i]] and draws[:6] == block[i].tolist()
        b = BlockStream(int(keys[i]), block[i].tolist())
        assert [b.u() for _ in range(8)] == draws       # past the block: computed one by one
    assert len(set(keys.tolist())) == 50 and (holder_keys(987654321, 50, day=3) != keys).all()


def test_a_profile_draws_clock_times_in_proportion():
    weights = [0.0] * 96
    weights[32], weights[33] = 3.0, 1.0               # 08:00-08:15 three times 08:15-08:30
    p = Profile(weights)
    rng = np.random.default_rng(1)
    t = p.clock_np(rng.random(40_000), rng.random(40_000))
    assert t.min() >= 8 * 3600 and t.max() < 8.5 * 3600
    assert np.mean(t < 8.25 * 3600) == pytest.approx(0.75, abs=0.01)
    assert p.after(8.2 * 3600, 0.0, 0.0) >= 8.2 * 3600 - 900      # from the slot it is in on


def test_mode_shares_follow_the_journeys_per_mode():
    cfg = load(ROOT / "scenarios" / "weekday.toml").config
    for prov in ("sichuan", "chongqing"):
        pm, pb, pmb, pbb = mode_shares(cfg, prov)
        assert pm + pb + pmb + pbb == pytest.approx(1.0)
        metro_taps, bus_taps = pm + pmb, pb + pmb + 2 * pbb
        pc = cfg["provinces"][prov]
        assert metro_taps / bus_taps == pytest.approx(
            pc["metro"]["journeys_per_day"] / pc["bus"]["journeys_per_day"])


def test_holder_counts_come_from_the_cited_volumes():
    cfg = load(ROOT / "scenarios" / "weekday.toml").config
    groups, refused = build_groups(cfg, all_points(cfg), Streams(1))
    h = cfg["demand"]["holders"]
    for prov in ("sichuan", "chongqing"):
        local = {g.htype: g.n for g in groups if g.host == prov and g.htype in h and g.htype != "tourist"
                 and g.htype != "visitor"}
        pmf = h["commuter"]["journeys_pmf"]
        mean = sum(k * p for k, p in enumerate(pmf)) / sum(pmf[1:])
        visits = sum(g.n for g in groups if g.host == prov and g.htype in ("visitor", "tourist"))
        assert local["commuter"] * mean == pytest.approx(
            card_journeys(cfg, prov) * h["commuter"]["journey_share"], rel=0.05)
        assert 0 < visits < sum(local.values())
    vis = [g for g in groups if g.htype == "visitor"]
    assert {(g.card_province, g.host) for g in vis} == {("sichuan", "chongqing"), ("chongqing", "sichuan")}
    assert sum(g.n for g in vis) == 4_000
    assert refused == {"sichuan": {}, "chongqing": {}}


def test_a_reservation_cap_refuses_the_excess_and_tours_add_up():
    sc = load(ROOT / "scenarios" / "golden-week.toml")
    cfg = sc.config
    groups, refused = build_groups(cfg, all_points(cfg), Streams(sc.seed))
    sp = cfg["provinces"]["sichuan"]["scenic_gate"]
    cap = sp["named"]["jiuzhaigou"]["daily_cap"] * sp["card_share"]
    at = [g for g in groups if g.point is not None and g.point.name == "jiuzhaigou"]
    assert sum(g.n for g in at) == pytest.approx(cap, abs=4)
    assert refused["sichuan"]["jiuzhaigou"] == round(55_000 * sp["card_share"] - cap)
    for g in at:
        assert sum(g.tours) == round(g.n * sp["group_share"]) and all(k >= 2 for k in g.tours)


def test_too_few_cards_for_the_travelling_holders_is_a_clear_error():
    from cardsim.errors import ScenarioError
    cfg = loads("", sets=["provinces.chongqing.cards=1000"]).config
    with pytest.raises(ScenarioError, match=r"provinces\.chongqing\.cards: 1000 cards hold only"):
        build_groups(cfg, all_points(cfg), Streams(1))

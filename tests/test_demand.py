"""Holders and their day (cardsim.model.holders, cardsim.model.demand): counts from the cited
volumes, streams, first departures, the profiles they follow, tour groups."""

import numpy as np
import pytest

from cardsim.config.scenario import load, loads
from cardsim.model.demand import build_groups
from cardsim.model import kernels
from cardsim.model.distributions import from_spec
from cardsim.model.holders import (
    GOVERNMENT_ITEMS, JOURNEY, MOVE, SCENIC, HashStream, Planner, Profile, card_journeys,
    government_item, holder_keys, mode_shares,
)
from cardsim.model.places import all_points
from cardsim.model.streams import Streams

from conftest import ROOT


def test_government_items():
    assert len(GOVERNMENT_ITEMS) == 24 and GOVERNMENT_ITEMS[0] == "pension_transfer"
    assert government_item(30) == "item_031"


def test_compiled_draws_are_the_holders_own_stream_bit_for_bit():
    keys = holder_keys(987654321, 50, day=2)
    p = Profile([1.0] * 96)
    first = p.first_clocks(keys)
    for i in (0, 17, 49):
        s = HashStream(int(keys[i]))
        draws = [s.u() for _ in range(8)]
        assert [kernels.uniform(keys[i], np.uint64(n)) for n in range(1, 9)] == draws
        assert first[i] == p.clock(draws[0], draws[1])
    assert len(set(keys.tolist())) == 50 and (holder_keys(987654321, 50, day=3) != keys).all()


def test_a_profile_draws_clock_times_in_proportion():
    weights = [0.0] * 96
    weights[32], weights[33] = 3.0, 1.0               # 08:00-08:15 three times 08:15-08:30
    p = Profile(weights)
    rng = np.random.default_rng(1)
    t = np.array([p.clock(u, v) for u, v in rng.random((40_000, 2)).tolist()])
    assert t.min() >= 8 * 3600 and t.max() < 8.5 * 3600
    assert np.mean(t < 8.25 * 3600) == pytest.approx(0.75, abs=0.01)
    assert p.after(8.2 * 3600, 0.0, 0.0) >= 8.2 * 3600 - 900      # from the slot it is in on
    later = [p.after(8.2 * 3600, u, v) for u, v in rng.random((4_000, 2)).tolist()]
    assert min(later) >= 8 * 3600 and max(later) < 8.5 * 3600


@pytest.fixture(scope="module")
def planner():
    cfg = load(ROOT / "scenarios" / "weekday.toml").config
    return Planner(cfg, all_points(cfg), cfg["simulation"]["start_hour"] * 3600.0), cfg


def _plans(planner, htype, home="sichuan", host="sichuan", site=0, n=2000, day=0):
    pl, _cfg = planner
    keys = holder_keys(4242, n, day)
    return keys, pl.plans(htype, home, host, site, keys, pl.first_clocks(htype, keys), day)


def test_a_plan_is_a_function_of_the_holders_key_alone(planner):
    keys, plans = _plans(planner, "commuter")
    pl, _cfg = planner
    again = pl.plans("commuter", "sichuan", "sichuan", 0, keys[::-1].copy(),
                     pl.first_clocks("commuter", keys[::-1].copy()), 0)
    assert again[::-1] == plans              # the same days, whatever the order or the block


def test_a_plan_block_reads_every_field_of_the_compiled_rows(planner):
    """The traveller reads a block's columns: each is the kernel's row field, step by step."""
    pl, _cfg = planner
    for htype, home, host in (("commuter", "sichuan", "sichuan"), ("visitor", "chongqing",
                                                                   "sichuan"),
                              ("tourist", "chongqing", "sichuan"), ("gov", "sichuan", "sichuan")):
        keys = holder_keys(99, 300, 1)
        clocks = pl.first_clocks(htype, keys)
        block = pl.block(htype, home, host, 2, keys, clocks, 1)
        out = np.zeros((300 * pl._width, kernels.STEP_W))
        counts = np.empty(300, dtype=np.int64)
        kind = {"commuter": kernels.H_TWOWAY, "visitor": kernels.H_VISITOR,
                "tourist": kernels.H_TOURIST, "gov": kernels.H_GOV}[htype]
        tables, modes, metro, bus, speeds = pl.place[host]
        jcum, jlo = pl._journeys.get(htype, pl._none)
        extra = pl.items if kind == kernels.H_GOV else pl.return_share
        rows = kernels.plan(out, counts, kind, keys, clocks, 86400.0 - pl.start_s,
                            0 if home == "sichuan" else 1, 0, 2, extra, jcum, jlo,
                            pl._prof[htype], tables, modes, metro, bus, speeds)
        assert block.count == counts.tolist() and len(block.at) == rows
        assert block.first == np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()
        for j, r in enumerate(out[:rows].tolist()):
            assert [block.kind[j], block.at[j], block.prov[j], block.after[j]] == \
                   [r[kernels.S_KIND], r[kernels.S_AT], r[kernels.S_PROV], r[kernels.S_AFTER]]
            assert [block.point[j], block.item[j], block.legs[j]] == \
                   [r[kernels.S_POINT], r[kernels.S_ITEM], r[kernels.S_LEGS]]
            assert [block.access[j], block.transfer[j]] == \
                   [r[kernels.S_ACCESS], r[kernels.S_TRANSFER]]
            for leg in range(2):
                o = kernels.S_LEG + leg * kernels.LEG_W
                assert [block.mode[leg][j], block.stop[leg][j], block.km[leg][j],
                        block.ride[leg][j], block.jitter[leg][j]] == r[o:o + 5]
        assert {type(x) for x in block.stop[0] + block.kind} == {int}


def test_local_plans_follow_their_journeys_pmf_and_go_out_before_coming_back(planner):
    _keys, plans = _plans(planner, "commuter")
    pmf = planner[1]["demand"]["holders"]["commuter"]["journeys_pmf"]
    counts = np.bincount([len(p) for p in plans], minlength=len(pmf))
    expect = np.array(pmf[1:]) / sum(pmf[1:]) * len(plans)
    assert counts[0] == 0 and np.abs(counts[1:len(pmf)] - expect).max() < 5 * np.sqrt(expect.max())
    for p in plans:
        assert all(st.kind == JOURNEY and st.province == "sichuan" for st in p)
        assert [st.at for st in p[1:]] == sorted(st.at for st in p[1:])
        for st in p:
            assert 1 <= len(st.legs) <= 2 and all(leg.km >= 0.5 and 0 <= leg.jitter < 1
                                                  for leg in st.legs)
            for leg in st.legs:          # riding time at the mode's speed
                speed = planner[1]["provinces"]["sichuan"][leg.mode]["speed_kmh"]
                assert leg.ride == pytest.approx(leg.km / speed * 3600.0)
            assert st.access > 0 and st.after > 0
    backs = [p[1].at for p in plans if len(p) > 1]
    assert np.median(backs) - np.median([p[0].at for p in plans]) > 6 * 3600   # out, then back


def test_visitors_take_the_train_first_and_maybe_back(planner):
    _keys, plans = _plans(planner, "visitor", home="chongqing", host="sichuan")
    share = planner[1]["demand"]["intercity"]["return_share"]
    for p in plans:
        assert p[0].kind == MOVE and p[0].province == "sichuan"
        back = p[-1].kind == MOVE and len(p) > 1
        journeys = p[1:-1] if back else p[1:]
        assert all(st.kind == JOURNEY and st.province == "sichuan" for st in journeys)
        # journeys from an hour after the train leaves (from the start of that 15-minute slot)
        assert all(st.at >= p[0].at + 3600.0 - 900.0 for st in journeys)
        if back:
            assert p[-1].province == "chongqing"
            assert p[-1].at >= (journeys[-1].at if journeys else p[0].at + 3600.0) - 900.0
    back = np.mean([len(p) > 1 and p[-1].kind == MOVE for p in plans])
    assert back == pytest.approx(share, abs=0.05)


def test_tourists_from_the_other_province_move_then_visit_the_site(planner):
    pl, _cfg = planner
    keys = holder_keys(77, 500, 0)
    clocks = np.full(500, 10 * 3600.0) + 3.0 * np.arange(500)     # one tour group
    plans = pl.plans("tourist", "chongqing", "sichuan", 3, keys, clocks, 0)
    for p, c in zip(plans, clocks.tolist()):
        assert [st.kind for st in p[:2]] == [MOVE, SCENIC] and p[1].point == 3
        assert p[1].service == "scenic_gate" and p[1].at == c - pl.start_s   # the group's clock
        assert p[1].at - p[0].at == pytest.approx(1.0)
        assert all(st.kind == JOURNEY and st.at >= p[1].at + 3600.0 - 900.0 for st in p[2:])
    _keys, local = _plans(planner, "tourist", home="sichuan", host="sichuan", site=1)
    assert all(p[0].kind == SCENIC for p in local)


def test_the_walks_and_waits_drawn_with_a_plan_follow_their_distributions(planner):
    _pl, cfg = planner
    d = cfg["demand"]
    dist = {k: from_spec(spec) for k, spec in (
        ("access", d["transit"]["access_walk"]), ("transfer", d["transit"]["transfer_walk"]),
        ("gap", d["transit"]["min_gap"]), ("visit", d["tourism"]["visit_time"]),
        ("intercity", d["intercity"]["travel_time"]))}
    steps = [st for kind in ("commuter", "visitor") for p in _plans(planner, kind, n=3000)[1]
             for st in p]
    steps += [st for p in _plans(planner, "tourist", home="chongqing", n=3000)[1] for st in p]
    drawn = {
        "access": [st.access for st in steps if st.kind == JOURNEY],
        "transfer": [st.transfer for st in steps if st.kind == JOURNEY],
        "gap": [st.after for st in steps if st.kind == JOURNEY],
        "visit": [st.after for st in steps if st.kind == SCENIC],
        "intercity": [st.after for st in steps if st.kind == MOVE],
    }
    for k, xs in drawn.items():       # each from its own table: the quantiles say which
        assert len(xs) > 500, k
        for q in (0.1, 0.5, 0.9):
            assert np.quantile(xs, q) == pytest.approx(dist[k].quantile(q), rel=0.1), (k, q)


def test_government_cases_spread_over_the_items_most_on_the_first(planner):
    _keys, plans = _plans(planner, "gov", site=2, n=4000)
    items = [p[0].service for p in plans]
    assert all(len(p) == 1 and p[0].point == 2 for p in plans)
    assert items.count(GOVERNMENT_ITEMS[0]) > items.count(GOVERNMENT_ITEMS[5]) > 0


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

"""The shipped scenarios describe a world a planner can believe (issue: demand from real figures).

Each shipped scenario is run small (demand and terminals scaled together) and its records checked:
no card in two places at once, a plausible number of uses per card, transfers only on real
transfers, each city's fares, the time-of-day shape, queues at the busiest stations' exits, and
common random numbers across capacity changes.
"""

from collections import defaultdict

import numpy as np
import pytest

from cardsim.config.scenario import load
from cardsim.model.fares import Calendar, TransitFares
from cardsim.model.places import CITY, Places, all_points, terminal_point, transit_shape
from cardsim.model.simulation import Simulation
from cardsim.records.record import Record

from conftest import ROOT

SCALE = 0.02
SCENARIOS = ["weekday.toml", "golden-week.toml", "issuer-outage.toml"]


def simulate(name: str, sets=(), scale=SCALE):
    sc = load(ROOT / "scenarios" / name, sets=list(sets), scale=scale, scale_capacity=True)
    rows: list[tuple] = []
    sim = Simulation(sc, sink=lambda batch, _marks: rows.extend(batch))
    summary = sim.run()
    n = len(Record._fields)
    return sc, sim, summary, [Record._make(r + (None,) * (n - len(r))) for r in rows]


@pytest.fixture(scope="module", params=SCENARIOS)
def run(request):
    return simulate(request.param)


def by_card(records):
    cards = defaultdict(list)
    for r in records:
        cards[r.card_id].append(r)
    return cards


def place_of(sim, r) -> str:
    if r.service == "scenic_gate":
        return sim.point_table[r.terminal_province]["scenic_gate"][terminal_point(r.terminal_id)].place
    return CITY[r.terminal_province]


def test_no_card_is_in_two_places_at_once(run):
    sc, sim, _s, records = run
    places = Places(sc.config, all_points(sc.config))
    moves = 0
    for uses in by_card(records).values():
        uses.sort(key=lambda r: r.sim_time)
        for a, b in zip(uses, uses[1:]):
            pa, pb = place_of(sim, a), place_of(sim, b)
            if pa != pb:
                moves += 1
                assert b.arrival_time - a.sim_time >= places.travel_s(pa, pb) - 1e-6, (a, b)
    assert moves > 0            # cards do travel: visitors, tourists


def test_uses_per_transacting_card_are_plausible(run):
    _sc, _sim, summary, records = run
    per_card = [len(v) for v in by_card(records).values()]
    # a holder makes 1-4 journeys, each one or two taps, plus a visit (docs/sources.md)
    assert 1.5 <= np.mean(per_card) <= 4.0 and max(per_card) <= 12
    made = sum(summary["cards_transacting"].values())      # a holder who balks made a card too
    assert len(per_card) <= made <= len(per_card) + sum(summary["balked"].values())


def test_cross_province_use_comes_from_travelling_holders(run):
    _sc, _sim, _s, records = run
    cross = [r for r in records if r.card_province != r.terminal_province]
    assert 0 < len(cross) < 0.1 * len(records)


def test_transfer_discounts_only_on_real_transfers(run):
    sc, _sim, _s, records = run
    transfers = 0
    for uses in by_card(records).values():
        uses.sort(key=lambda r: r.seq)
        last = None
        for r in uses:
            if r.channel != "transit" or r.outcome != "approved":
                continue
            if r.concession == "transfer":
                transfers += 1
                f = sc.config["provinces"][r.terminal_province]["fares"]
                assert last is not None and last.terminal_province == r.terminal_province
                assert r.sim_time - last.sim_time <= f["transfer_window_s"]
                assert last.concession != "transfer"                      # no chaining
                assert last.service != r.service or (r.service == "bus" and f["transfer_bus_bus"])
                assert r.terminal_province == "chongqing"                 # Chengdu has none
            last = r
    cq = [r for r in records if r.channel == "transit" and r.terminal_province == "chongqing"]
    t = sc.config["demand"]["transit"]
    assert 0 < transfers <= 1.5 * (t["transfer_share"] + t["bus_bus_share"]) * len(cq)


def test_full_metro_fares_follow_each_citys_bands(run):
    sc, _sim, _s, records = run
    cal = Calendar(sc.config["simulation"]["start_date"], 0.0)
    fares = {p: TransitFares(sc.config["provinces"][p], p, cal) for p in CITY}
    full = [r for r in records if r.service == "metro" and r.category == "adult"
            and r.concession is None and r.outcome == "approved"]
    assert full
    for r in full:
        f = fares[r.terminal_province]
        assert r.amount_fen == f.metro_base(r.trip_km) * 9 // 10     # the card's 9折 price


def test_weekday_taps_follow_the_peaks_and_the_busiest_exits_queue():
    sc, sim, _s, records = simulate("weekday.toml", scale=0.05)
    metro = [r for r in records if r.service == "metro"]
    slots = np.bincount([int(r.sim_time // 900) % 96 for r in metro], minlength=96)
    assert 28 <= int(np.argmax(slots)) <= 38                      # 07:00-09:30
    evening = int(np.argmax(slots[64:84])) + 64
    assert 68 <= evening <= 78                                     # 17:00-19:30
    shape = np.array(transit_shape(sc.config))
    assert np.corrcoef(slots, shape)[0, 1] > 0.8
    busiest = {pt.index for pt in sim.point_table["sichuan"]["metro"]
               if pt.name in ("chunxi_road", "chengdu_east")}
    peak = [r.wait_s for r in metro if r.terminal_province == "sichuan"
            and terminal_point(r.terminal_id) in busiest and 7.5 * 3600 <= r.sim_time < 9.5 * 3600]
    assert len(peak) > 30 and np.percentile(peak, 95) >= 3.0       # real queues at the exits


def test_one_stations_gates_leave_everyone_elses_demand_alone():
    """Common random numbers: fewer gates at one station change nothing for the cards that never
    exit there (same taps, same points, same amounts, same outcomes)."""
    _a, sim, _s, base = simulate("weekday.toml")
    station = next(p for p in sim.point_table["sichuan"]["metro"] if p.name == "chunxi_road")
    _b, _sim2, _s2, fewer = simulate("weekday.toml", sets=[
        f"provinces.sichuan.metro.named.{station.name}.terminals=1"])

    def story(records):
        out = {}
        for card, uses in by_card(records).items():
            uses.sort(key=lambda r: r.seq)
            out[card] = [(r.service, r.terminal_province, terminal_point(r.terminal_id),
                          r.amount_fen, r.outcome) for r in uses]
        return out

    sa, sb = story(base), story(fewer)
    touched = {c for c, s in list(sa.items()) + list(sb.items())
               if any(x[0] == "metro" and x[1] == "sichuan" and x[2] == station.index for x in s)}
    assert touched and set(sa) == set(sb)
    assert {c: s for c, s in sa.items() if c not in touched} == \
           {c: s for c, s in sb.items() if c not in touched}


def test_card_memory_follows_the_travelling_holders_not_the_population():
    _sc, _sim, s1, _r = simulate("weekday.toml", scale=0.01)
    _sc, sim, s2, _r = simulate("weekday.toml", scale=0.01, sets=[
        "provinces.sichuan.cards=400000000", "provinces.chongqing.cards=300000000"])
    assert s1["cards_transacting"] == s2["cards_transacting"]
    assert sum(len(p) for p in sim.population.values()) == sum(s2["cards_transacting"].values())


#: One station loaded near its capacity in waves a minute apart, on one gate: queues run from
#: wave to wave, so waves must not be skipped there
LOADED = ["provinces.sichuan.metro.terminals=1", "provinces.sichuan.metro.sizing_utilisation=0",
          "provinces.sichuan.metro.headway_s=60", "provinces.sichuan.metro.journeys_per_day=36e6",
          "provinces.sichuan.transit_card_share=0.01"]


@pytest.mark.parametrize("name,sets", [("weekday.toml", []), ("golden-week.toml", []),
                                       ("weekday.toml", LOADED)])
def test_the_queue_horizon_leaves_every_card_holder_s_wait_as_it_was(name, sets):
    """Other payers drawn only near the card holders (simulation.queue_horizon_s) give every
    transaction the wait it has with every wave drawn, and about the same utilisation."""
    _a, _s1, full, rec_full = simulate(name, sets=sets + ["simulation.queue_horizon_s=0"])
    _b, _s2, near, rec_near = simulate(name, sets=sets)
    assert [(r.seq, r.card_id, r.wait_s) for r in rec_full] == \
           [(r.seq, r.card_id, r.wait_s) for r in rec_near]
    for key, u in full["utilisation"]["service_points"].items():
        assert near["utilisation"]["service_points"][key] == pytest.approx(u, rel=0.02, abs=1e-4)
    assert near["other_payers"] != full["other_payers"]       # some waves were skipped

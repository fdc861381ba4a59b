import sqlite3
from collections import defaultdict

import pytest

from cardsim import api
from cardsim.log.store import digest
from cardsim.model.simulation import Simulation
from cardsim.config.scenario import load

from conftest import QUICK, SCENARIOS


def rows(path):
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    out = con.execute("SELECT * FROM transactions ORDER BY seq").fetchall()
    con.close()
    return out


def test_same_seed_same_log_different_seed_different(tmp_path, weekday_path):
    outs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        sc = load(weekday_path, sets=QUICK, scale=0.05, seed=seed)
        api.run(sc, out=tmp_path / f"{name}.db", create_keys=True)
        outs.append(digest(tmp_path / f"{name}.db"))
    assert outs[0] == outs[1] != outs[2]


def test_log_agrees_with_summary_and_invariants(tmp_path, quick_scenario):
    s = api.run(quick_scenario, out=tmp_path / "r.db", create_keys=True).summary
    rs = rows(tmp_path / "r.db")
    assert len(rs) == s["transactions"] > 1000
    assert [r["seq"] for r in rs] == list(range(1, len(rs) + 1))
    assert len({r["tx_id"] for r in rs}) == len(rs)
    times = [r["sim_time"] for r in rs]
    assert times == sorted(times)                       # log order is decision order
    assert sum(r["outcome"] == "approved" for r in rs) == s["approved"]
    assert s["approved"] + s["declined"] == s["transactions"]
    by_channel = defaultdict(int)
    for r in rs:
        by_channel[r["channel"]] += 1
        assert (r["reason"] is None) == (r["outcome"] == "approved")
        assert r["card_id"][:2] == {"sichuan": "51", "chongqing": "50"}[r["card_province"]]
        assert r["issuer_id"] == f"issuer-{r['card_province']}"
        assert r["sim_time"] >= r["arrival_time"] and r["uploaded_at"] >= r["sim_time"]
        if r["mode"] == "offline":
            assert r["balance_fen"] >= 0 and r["auth_latency_s"] is None
            assert r["wait_s"] == pytest.approx(r["sim_time"] - r["arrival_time"])
        else:
            assert r["balance_fen"] is None and r["auth_latency_s"] >= 0
    assert dict(by_channel) == {c: v["transactions"] for c, v in s["by_channel"].items() if v["transactions"]}
    con = sqlite3.connect(tmp_path / "r.db")
    run = con.execute("SELECT completed, transactions, seed, config_json FROM runs").fetchone()
    assert run[0] == 1 and run[1] == len(rs) and run[2] == quick_scenario.seed
    assert run[3] == quick_scenario.config_json()


def test_atc_rises_and_balances_follow_fares(tmp_path, quick_scenario):
    api.run(quick_scenario, out=tmp_path / "r.db", create_keys=True)
    last_atc, last_balance = {}, {}
    for r in rows(tmp_path / "r.db"):
        c = r["card_id"]
        if c in last_atc:
            assert r["atc"] == last_atc[c] + 1       # every use increments the counter
        last_atc[c] = r["atc"]
        if r["mode"] == "offline":
            if c in last_balance:
                charged = r["amount_fen"] if r["outcome"] == "approved" else 0
                assert r["balance_fen"] == last_balance[c] - charged
            last_balance[c] = r["balance_fen"]


def test_lazy_population_memory_follows_active_cards(quick_scenario):
    sim = Simulation(quick_scenario)
    sim.run()
    for p, pop in sim.population.items():
        assert 0 < len(pop) < pop.size / 20         # only the travelling holders' cards exist


def test_outage_scenario_uses_standin():
    path = SCENARIOS[[p.name for p in SCENARIOS].index("issuer-outage.toml")]
    sets = ["simulation.duration_hours=4", "simulation.start_hour=7"]
    s = Simulation(load(path, sets=sets, scale=0.2)).run()
    assert s["declined_by_reason"].get("standin_limit", 0) == 0   # the limit admits every ticket
    later = sets + ["provinces.sichuan.issuer.outages=[[1.5, 3.0]]",      # 08:30-10:00
                    "provinces.sichuan.issuer.standin_limit_fen=6000"]
    reasons = Simulation(load(path, sets=later, scale=0.2)).run()["declined_by_reason"]
    assert reasons.get("issuer_unavailable", 0) > 0      # government items during the outage
    assert reasons.get("standin_limit", 0) > 0           # tickets above a lower limit


def test_blacklist_exposure_grows_with_the_push_delay(quick_scenario):
    base = ["provinces.sichuan.lost_per_day=20000", "provinces.chongqing.lost_per_day=20000"]
    fast = load(quick_scenario.source, sets=list(QUICK) + base + [
        "provinces.sichuan.blacklist_push_interval_s=60", "provinces.sichuan.blacklist_push_delay_s=0",
        "provinces.chongqing.blacklist_push_interval_s=60", "provinces.chongqing.blacklist_push_delay_s=0"],
        scale=0.05)
    slow = load(quick_scenario.source, sets=list(QUICK) + base + [
        "provinces.sichuan.blacklist_push_delay_s=7200", "provinces.chongqing.blacklist_push_delay_s=7200"],
        scale=0.05)
    e_fast = Simulation(fast).run()["blacklist_exposure"]
    e_slow = Simulation(slow).run()["blacklist_exposure"]
    assert e_slow["transactions"] > 3 * max(1, e_fast["transactions"])
    assert e_slow["amount_fen"] > 0


def test_cross_province_clearing_matches_the_log(tmp_path, quick_scenario):
    s = api.run(quick_scenario, out=tmp_path / "r.db", create_keys=True).summary
    con = sqlite3.connect(tmp_path / "r.db")
    for pair, fen in s["clearing"]["gross_fen"].items():
        a, b = pair.split("->")
        got = con.execute("SELECT coalesce(sum(amount_fen), 0) FROM transactions WHERE outcome='approved' "
                          "AND card_province=? AND terminal_province=?", (a, b)).fetchone()[0]
        assert got == fen
    assert sum(s["clearing"]["net_fen"].values()) == 0


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_scenario_runs_small(path):
    s = Simulation(load(path, sets=["simulation.duration_hours=3", "simulation.start_hour=8"],
                        scale=0.02)).run()
    assert s["transactions"] > 0

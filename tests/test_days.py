"""Logs linked day to day: a run --after a log commits to its final signed tree head and starts from
its final state; a series verifies; a day missing, swapped or replaced, and a counter moved back
across days, are caught."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.config.scenario import load
from cardsim.log import days as days_mod
from cardsim.records import encoding as E

from adversarial.support import assert_bad_input, edit, one
from conftest import ROOT

runner = CliRunner()
SETS = ["simulation.duration_hours=2", "simulation.start_hour=8", "provinces.sichuan.lost_per_day=3000"]


def scenario(**kw):
    return load(ROOT / "scenarios" / "weekday.toml", scale=0.02, sets=SETS, **kw)


@pytest.fixture(scope="module")
def series(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("days")
    results = api.run_days(scenario(), 3, d, keys_dir=keys_dir, workers=1)
    return [r.log for r in results]


def rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_each_day_follows_the_final_head_of_the_day_before(series, keys_dir):
    for prev, day in zip(series, series[1:]):
        (pred,) = rows(day, "SELECT * FROM predecessor")
        final = one(prev, "SELECT count, head, root, sim_time, final, signer, signature FROM "
                          "checkpoints WHERE final = 1")
        run = one(prev, "SELECT config_json, seed FROM runs")
        prev_id = (E.genesis_hash(*run) if prev == series[0] else pred[0])
        assert pred[0] == prev_id and tuple(pred[1:8]) == final
        day_run = one(day, "SELECT config_json, seed FROM runs")
        assert E.genesis_hash(*day_run, days_mod.head_digest(pred)) == one(
            day, "SELECT prev_hash FROM transactions WHERE seq = 1")[0]
    dates = [json.loads(one(p, "SELECT config_json FROM runs")[0])["simulation"]["start_date"]
             for p in series]
    assert dates == ["2026-11-02", "2026-11-03", "2026-11-04"]
    base = scenario().seed
    assert [one(p, "SELECT seed FROM runs")[0] for p in series] == [base, base + 1, base + 2]
    assert api.verify_series(series, keys_dir).ok


def test_cards_carry_their_counters_balances_and_loss_reports(series):
    day1, day2 = series[0], series[1]
    last = dict(rows(day1, "SELECT card_id, max(atc) FROM transactions GROUP BY card_id"))
    first = dict(rows(day2, "SELECT card_id, min(atc) FROM transactions GROUP BY card_id"))
    both = set(last) & set(first)
    assert len(both) > 20
    assert all(first[c] > last[c] for c in both)
    state = {r[0]: r[1:] for r in rows(day1, "SELECT * FROM card_state")}
    assert set(last) <= set(state) and all(state[c][0] == last[c] for c in last)
    # an offline debit on day 2 starts from the balance day 1 ended with
    for card, atc, bal, amount, outcome in rows(
            day2, "SELECT card_id, atc, balance_fen, amount_fen, outcome FROM transactions WHERE "
                  "mode = 'offline' ORDER BY seq"):
        if card in state and first.get(card) == atc and outcome == "approved" and bal is not None:
            assert bal == state[card][1] - amount
            break
    else:
        pytest.fail("no offline approval of a carried card")
    lost1 = rows(day1, "SELECT card_id, reported_at FROM blacklist")
    lost2 = dict(rows(day2, "SELECT card_id, reported_at FROM blacklist"))
    assert lost1 and all(c in lost2 and lost2[c] < 0 for c, _ in lost1)


@pytest.mark.parametrize("order, reason", [((0, 2), "follows_another_log"),
                                           ((2, 1), "follows_another_log"),
                                           ((1, 2, 0), "follows_no_log")])
def test_a_day_missing_swapped_or_replaced_is_caught(series, keys_dir, order, reason):
    got = api.verify_series([series[i] for i in order], keys_dir)
    assert not got.ok and reason in [f["reason"] for f in got.findings]
    assert all(r.ok for r in got.reports)                 # each log on its own is fine


def test_a_counter_moved_back_across_days_is_caught(series, tmp_path, keys_dir, monkeypatch):
    """A clone of the cards as they were issued, used the next day: the day's log verifies on its
    own, the series does not."""
    real = days_mod.carried_state
    monkeypatch.setattr(days_mod, "carried_state",
                        lambda path, sc: real(path, sc).__class__(
                            **{**real(path, sc).__dict__, "cards": {}}))
    clone = tmp_path / "clone.db"
    api.run(days_mod.day_scenario(scenario(), None, 1), clone, keys_dir=keys_dir, workers=1,
            after=series[0])
    got = api.verify_series([series[0], clone], keys_dir)
    assert got.reports[1].ok
    # the day started from the cards as issued: not the state the day before ended in
    assert {f["check"] for f in got.findings} == {"atc", "card_state"}
    assert all(f["reason"].startswith("not_above_previous_day:") for f in got.findings
               if f["check"] == "atc")
    assert all(f["reason"].startswith("not_carried:") for f in got.findings
               if f["check"] == "card_state")


def test_an_edited_predecessor_fails_verify(series, tmp_path, keys_dir):
    p = tmp_path / "d2.db"
    p.write_bytes(series[1].read_bytes())
    edit(p, "UPDATE predecessor SET root = ?", bytes(32))
    reasons = {f.reason for f in api.verify(p, keys_dir).report.findings}
    assert "predecessor_bad_signature" in reasons


def test_cli_days_and_series(tmp_path, keys_dir, series):
    r = runner.invoke(app, ["verify", *map(str, series), "--keys", str(keys_dir), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["series"]["failures"] == 0
    r = runner.invoke(app, ["verify", str(series[0]), str(series[2]), "--keys", str(keys_dir)])
    assert r.exit_code == 1 and "follows_another_log" in r.stdout
    sc = str(ROOT / "scenarios" / "weekday.toml")
    r = runner.invoke(app, ["run", sc, "--scale", "0.01", "--set", SETS[0], "--set", SETS[1],
                            "--days", "2", "--out-dir", str(tmp_path), "--keys", str(keys_dir),
                            "--json"])
    assert r.exit_code == 0, r.output
    assert [d["log"] for d in json.loads(r.stdout)["days"]] == [str(tmp_path / "day1.db"),
                                                                 str(tmp_path / "day2.db")]
    r = runner.invoke(app, ["run", sc, "--out", str(tmp_path / "x.db"), "--after",
                            str(tmp_path / "missing.db"), "--keys", str(keys_dir)])
    assert_bad_input(r, "missing.db")
    assert_bad_input(runner.invoke(app, ["run", sc, "--days", "2", "--keys", str(keys_dir)]),
                     "--out-dir")


def test_terminals_number_their_uploads_on_from_the_day_before(series, tmp_path, keys_dir):
    day1, day2 = series[0], series[1]
    last = dict(rows(day1, "SELECT terminal_id, max(number) FROM uploads GROUP BY terminal_id"))
    start = dict(rows(day2, "SELECT * FROM upload_start"))
    first = dict(rows(day2, "SELECT terminal_id, min(number) FROM uploads GROUP BY terminal_id"))
    assert start and all(start[t] == n for t, n in last.items())
    assert all(first[t] == start.get(t, 0) + 1 for t in first)
    p = tmp_path / "d2.db"
    p.write_bytes(day2.read_bytes())
    t = sorted(set(start) & set(first))[0]       # a terminal that uploads on both days
    edit(p, "UPDATE upload_start SET number = number + 1 WHERE terminal_id = ?", t)
    got = api.verify_series([day1, p], keys_dir)
    assert ("uploads", f"numbering_not_continued:{t}") in [
        (f["check"], f["reason"]) for f in got.findings]
    assert any(f.reason.startswith("number_gap:") for f in got.reports[1].findings)


def test_a_following_day_replays_without_divergence(series, keys_dir):
    got = api.replay(series[1], keys_dir=keys_dir, workers=1)
    assert got.replayed > 1000 and got.diverged == 0


def test_a_week_uses_the_weekend_scenario_on_saturday_and_sunday():
    weekday = scenario()
    weekend = load(ROOT / "scenarios" / "golden-week.toml", scale=0.02, sets=SETS)
    week = [days_mod.day_scenario(weekday, weekend, i) for i in range(7)]
    dates = [s.config["simulation"]["start_date"] for s in week]
    assert dates[0] == weekday.config["simulation"]["start_date"] == "2026-11-02"   # a Monday
    assert [s.name for s in week] == ["weekday"] * 5 + ["golden-week"] * 2
    assert [s.seed for s in week] == [weekday.seed + i for i in range(7)]
    assert dates[-1] == "2026-11-08"


def test_the_senior_quota_carries_its_year_and_extensions(series):
    """card_state keeps the quota's calendar year and the extensions left; the next day starts
    from them (card_start), not from a fresh allowance."""
    state = rows(series[0], "SELECT * FROM card_state")
    assert len(state[0]) == 6
    year = int(json.loads(rows(series[0], "SELECT config_json FROM runs")[0][0])
               ["simulation"]["start_date"][:4])
    assert {r[4] for r in state} == {year}
    assert sorted(rows(series[1], "SELECT * FROM card_start")) == sorted(state)


def _senior_after(carried_year: int, start_date: str):
    """A run on ``start_date`` that follows a day on which a Chongqing senior used up their
    quota and its extensions in ``carried_year``: the card's quota as the fares see it."""
    from cardsim.model.card import SENIOR
    from cardsim.model.simulation import Simulation

    sim = Simulation(load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
                          sets=[*SETS, f"simulation.start_date={start_date}"]))
    pop = sim.population["chongqing"]
    card = pop.peek(pop.serial_for(SENIOR, 0))
    days_mod.seed_simulation(sim, days_mod.CarriedState(
        (), sim.scenario.seed, {card.card_id: (card.atc, card.balance_fen, 0, carried_year, 0)}))
    got = sim.population["chongqing"].used(card.serial)
    fares = sim.points["chongqing"]["metro"].merchant.fares
    return fares.quota(got, 0.0), fares


def test_a_carried_quota_resets_in_a_new_year_and_not_on_a_new_day():
    (left, ext, year), fares = _senior_after(2026, "2027-01-01")
    assert (left, ext, year) == (fares.quota_year, fares.extensions, 2027)
    (left, ext, year), _ = _senior_after(2026, "2026-12-31")
    assert (left, ext, year) == (0, 0, 2026)     # the same year: used up, no new extensions


@pytest.mark.parametrize("column, value, says", [
    ("quota_year", "next", "quota_year 'next' is not a whole number"),
    ("atc", 2**63 - 1, "atc 9223372036854775807 is not a whole number in [0, 2147483647]"),
    ("balance_fen", -5, "balance_fen -5 is not a whole number"),
    ("quota_extensions_left", 10**6, "more than the"),
    ("quota_year", 2999, "after the run's year"),
])
def test_a_carried_state_out_of_range_is_refused(series, tmp_path, keys_dir, column, value, says):
    """card_state is not signed: --after takes only values a run could have left (a forged row
    would otherwise carry, say, unlimited quota extensions into the next day)."""
    bad = tmp_path / "bad.db"
    bad.write_bytes(series[0].read_bytes())
    card = one(bad, "SELECT card_id FROM card_state WHERE card_id LIKE '50%'")[0]
    edit(bad, f"UPDATE card_state SET {column} = ? WHERE card_id = ?", value, card)
    r = runner.invoke(app, ["run", str(ROOT / "scenarios" / "weekday.toml"), "--scale", "0.02",
                            "--out", str(tmp_path / "next.db"), "--keys", str(keys_dir),
                            "--after", str(bad), "--quiet"])
    assert_bad_input(r, str(bad), "card_state", card, says)
    assert not (tmp_path / "next.db").exists()


def test_a_carried_state_changed_in_the_next_log_fails_the_series(series, tmp_path, keys_dir):
    day2 = tmp_path / "day2.db"
    day2.write_bytes(series[1].read_bytes())
    card = one(day2, "SELECT card_id FROM card_start")[0]
    edit(day2, "UPDATE card_start SET quota_extensions_left = quota_extensions_left + 5 "
               "WHERE card_id = ?", card)
    got = api.verify_series([series[0], day2], keys_dir)
    assert not got.ok
    assert {(f["check"], f["reason"]) for f in got.findings} == {("card_state", f"not_carried:{card}")}

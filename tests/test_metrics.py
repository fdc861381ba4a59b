import sqlite3

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.errors import ScenarioError
from cardsim.config.metrics import METRICS, metric_value, parse_threshold, thresholds_of
from cardsim.model.simulation import Simulation
from cardsim.config.scenario import load, loads

from conftest import QUICK

runner = CliRunner()


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    from conftest import ROOT
    sc = load(ROOT / "scenarios" / "weekday.toml", sets=list(QUICK), scale=0.05)
    return Simulation(sc).run()


def test_every_metric_has_a_value(summary):
    for m in METRICS:
        assert isinstance(metric_value(summary, m), float), m
    assert metric_value(summary, "wait.gov_window.p95") == summary["waits"]["gov_window"]["p95"]
    assert metric_value(summary, "utilisation.issuer-sichuan") == summary["utilisation"]["issuers"]["issuer-sichuan"]


def test_threshold_parsing():
    t, err = parse_threshold("wait.metro.p95", "< 20")
    assert err is None and t.holds(19.9) and not t.holds(20) and t.upper
    t, _ = parse_threshold("throughput.transit", ">= 1e3")
    assert t.holds(1000) and not t.upper
    assert "did you mean wait.metro.p95" in parse_threshold("wait.metr.p95", "< 1")[1]
    assert "must be a string like" in parse_threshold("wait.metro.p95", 20)[1]
    assert "must be a string like" in parse_threshold("wait.metro.p95", "about 20")[1]


def test_thresholds_in_a_scenario_are_validated_at_load():
    sc = loads('[thresholds]\n"decline_rate.government" = "< 0.01"\n')
    assert [str(t) for t in thresholds_of(sc.config)] == ["decline_rate.government < 0.01"]
    with pytest.raises(ScenarioError, match=r"x.toml: thresholds.wait.nope.p95: unknown metric"):
        loads('[thresholds]\n"wait.nope.p95" = "< 1"\n', source="x.toml")


def test_run_exits_1_when_a_threshold_fails(tmp_path, weekday_path):
    good = tmp_path / "good.toml"
    good.write_text(weekday_path.read_text() + '\n[thresholds]\n"decline_rate.government" = "<= 1"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text(weekday_path.read_text() + '\n[thresholds]\n"throughput.transit" = "> 1e9"\n')
    args = ["--scale", "0.02", "--quiet", "--set", "simulation.duration_hours=2"]
    r = runner.invoke(app, ["run", str(good), *args, "--json"])
    assert r.exit_code == 0
    import json
    assert json.loads(r.stdout)["thresholds"][0]["passed"] is True
    r = runner.invoke(app, ["run", str(bad), *args])
    assert r.exit_code == 1 and "FAIL" in r.stdout


def test_metrics_table_and_warmup(tmp_path, keys_dir, weekday_path):
    sc = load(weekday_path, sets=["simulation.duration_hours=6", "simulation.start_hour=6",
                                  "simulation.warmup_hours=2"], scale=0.05)
    s = api.run(sc, out=tmp_path / "m.db", keys_dir=keys_dir).summary
    con = sqlite3.connect(tmp_path / "m.db")
    total = con.execute("SELECT sum(value) FROM metrics WHERE metric='transactions'").fetchone()[0]
    assert total == s["transactions"]
    hours = [h for h, in con.execute("SELECT DISTINCT hour FROM metrics WHERE metric='utilisation' ORDER BY hour")]
    assert hours[:6] == list(range(6))
    waits_all = con.execute("SELECT sum(value) FROM metrics WHERE metric='wait_count'").fetchone()[0]
    assert s["waits"]["metro"]["count"] + s["waits"]["bus"]["count"] < waits_all   # warm-up excluded
    u = con.execute("SELECT max(value) FROM metrics WHERE metric='utilisation'").fetchone()[0]
    assert 0 < u <= 1


def test_table_metrics_are_metrics():
    from cardsim.config.metrics import METRICS, TABLE_METRICS
    assert set(TABLE_METRICS) <= METRICS

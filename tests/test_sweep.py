import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cardsim.cli.app import app
from cardsim.errors import CardsimError
from cardsim.planning.sweep import plan, run_sweep, split_values, summarise

from conftest import ROOT

runner = CliRunner()
W = ROOT / "scenarios" / "weekday.toml"
SMALL = ["simulation.duration_hours=3", "simulation.start_hour=8"]


def test_split_values():
    assert split_values("1,2,3") == ["1", "2", "3"]
    assert split_values("[[1, 2]],[[3, 4]]") == ["[[1, 2]]", "[[3, 4]]"]
    assert split_values('"a,b",c') == ['"a,b"', "c"]


def test_confidence_interval():
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5 and s["n"] == 4
    half = 3.182 * np.std([1, 2, 3, 4], ddof=1) / 2
    assert s["ci_high"] == pytest.approx(2.5 + half, abs=1e-5)


def test_bad_set_is_an_error_before_any_run():
    with pytest.raises(CardsimError, match="--set provinces.sichuan.metro.nope: unknown key"):
        plan(W, 2, ["provinces.sichuan.metro.nope=1,2"])
    with pytest.raises(CardsimError, match="must be >= 1, got 0"):
        plan(W, 2, ["provinces.sichuan.metro.terminals=4,0"])
    with pytest.raises(CardsimError, match="at least 2"):
        plan(W, 1, [])


@pytest.fixture(scope="module")
def small_plan():
    return plan(W, 3, ["provinces.sichuan.gov_window.terminals=2,6"] + SMALL, scale=0.1)


@pytest.fixture(scope="module")
def local(small_plan):
    return run_sweep(small_plan, workers=2)


def test_sweep_results_reproducible_and_replications_independent(small_plan, local):
    again = run_sweep(small_plan, workers=1)
    assert again["combinations"] == local["combinations"]
    m = local["combinations"][0]["metrics"]["throughput.transit"]
    assert m["ci_high"] > m["mean"] > m["ci_low"]       # replications differ
    assert [c["set"] for c in local["combinations"]] == [
        {"provinces.sichuan.gov_window.terminals": 2}, {"provinces.sichuan.gov_window.terminals": 6}]
    few, many = (c["metrics"]["wait.gov_window.mean"]["mean"] for c in local["combinations"])
    assert few >= many                                    # fewer windows, longer waits


def test_dask_local_cluster_gives_identical_results(small_plan, local):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = run_sweep(small_plan, scheduler=cluster.scheduler_address)
    assert remote["combinations"] == local["combinations"]


def test_cli_sweep_json_csv_and_thresholds(tmp_path):
    args = ["sweep", str(W), "-n", "2", "--set", "provinces.sichuan.gov_window.terminals=2,6",
            "--scale", "0.05", "--quiet", "--workers", "1"]
    for s in SMALL:
        args += ["--set", s]
    r = runner.invoke(app, args + ["--json", "--csv", str(tmp_path / "s.csv")])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["kind"] == "cardsim-sweep" and len(data["combinations"]) == 2
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0].startswith("provinces.sichuan.gov_window.terminals,metric,mean")
    bad = tmp_path / "t.toml"
    bad.write_text(W.read_text() + '\n[thresholds]\n"throughput.transit" = "> 1e9"\n')
    r = runner.invoke(app, ["sweep", str(bad), "-n", "2", "--scale", "0.02", "--quiet",
                            "--workers", "1", "--set", "simulation.duration_hours=1"])
    assert r.exit_code == 1 and "FAIL" in r.stdout
    r = runner.invoke(app, ["sweep", str(W), "-n", "2", "--set", "nope.key=1,2"])
    assert r.exit_code == 2 and "--set nope.key: unknown key" in r.stderr


def test_a_sweep_runs_the_scenarios_attacks_as_cardsim_run_does():
    """In-run attacks add records to a run; a sweep of the same scenario must add them too."""
    from cardsim import api
    sets = SMALL + ["attacks.cloned_cards=15"]
    swept = api.sweep(W, 2, sets, scale=0.02, workers=1).summary
    plain = api.sweep(W, 2, SMALL, scale=0.02, workers=1).summary
    mean = lambda r: r["combinations"][0]["metrics"]["transactions"]["mean"]
    assert mean(swept) > mean(plain)

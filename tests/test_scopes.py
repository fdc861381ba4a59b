import pytest

from cardsim.config.metrics import metric_names, metric_value
from cardsim.config.points import point_names
from cardsim.config.scenario import load
from cardsim.domain import PROVINCES
from cardsim.model.scopes import window_values
from cardsim.model.simulation import Simulation

from conftest import ROOT

# a busy few hours: the scenic gates queue at one gate per site
SETS = ["simulation.duration_hours=4", "simulation.start_hour=8", "simulation.warmup_hours=1",
        "provinces.chongqing.scenic_gate.terminals=1", "provinces.sichuan.metro.terminals=1"]


@pytest.fixture(scope="module")
def run():
    sc = load(ROOT / "scenarios" / "golden-week.toml", sets=SETS, scale=0.3)
    sim = Simulation(sc)
    return sim, sim.run()


def test_every_named_metric_has_a_value(run):
    sim, s = run
    for m in metric_names(sim.cfg):
        assert isinstance(metric_value(s, m), float), m


def test_scopes_add_up(run):
    sim, s = run
    sc = s["scopes"]
    assert sc["scenic_gate"]["day"]["wait"] == s["waits"]["scenic_gate"]
    assert metric_value(s, "balked.metro") == s["balked"]["metro"]
    for t in ("metro", "scenic_gate"):
        assert sc[t]["day"]["wait"]["count"] == sum(sc[f"{p}.{t}"]["day"]["wait"]["count"] for p in PROVINCES)
        for p in PROVINCES:
            util = sc[f"{p}.{t}"]["day"]["utilisation"]
            assert util == pytest.approx(s["utilisation"]["service_points"][f"{p}.{t}"], abs=1e-6)
            if t == "metro":
                continue        # hundreds of unnamed stations: the named ones only are reported
            per_point = [sc[f"{p}.{t}.{n}"]["day"] for n in point_names(sim.cfg, p, t)]
            assert sum(x["wait"]["count"] for x in per_point) == sc[f"{p}.{t}"]["day"]["wait"]["count"]
            assert sum(x["balked"] for x in per_point) == sc[f"{p}.{t}"]["day"]["balked"]
            assert max(x["utilisation_max_hour"] for x in per_point) >= sc[f"{p}.{t}"]["day"]["utilisation_max_hour"] - 1e-9


def test_queues_form_where_capacity_is_short(run):
    _, s = run
    cq = s["scopes"]["chongqing.scenic_gate"]
    assert cq["day"]["wait"]["p95"] > s["scopes"]["sichuan.scenic_gate"]["day"]["wait"]["p95"]
    assert cq["peak"]["wait"]["p95"] >= cq["day"]["wait"]["p50"]
    assert 0 < cq["day"]["utilisation"] <= cq["day"]["utilisation_max_hour"] <= 1


def test_the_peak_is_the_busiest_hour_after_warm_up(run):
    sim, s = run
    peak = s["scopes"]["chongqing.scenic_gate"]["peak"]
    hours = {f"{8 + h:02d}:00-{9 + h:02d}:00": h for h in range(1, 4)}     # warm-up: hour 0
    assert peak["window"] in hours
    counts = {w: window_values(sim, [f"throughput.chongqing.scenic_gate.{w}"]) for w in hours}
    best = max(counts.values(), key=lambda d: list(d.values())[0])
    assert list(best.values())[0] == peak["throughput"]


def test_windows_are_clock_hours_after_warm_up(run):
    sim, s = run
    whole = window_values(sim, ["wait.chongqing.scenic_gate.00:00-24:00.count",
                                "balked.sichuan.metro.09:00-12:00", "wait.metro.08:00-09:00.count"])
    assert whole["wait.chongqing.scenic_gate.00:00-24:00.count"] == s["scopes"]["chongqing.scenic_gate"]["day"]["wait"]["count"]
    assert whole["balked.sichuan.metro.09:00-12:00"] == s["scopes"]["sichuan.metro"]["day"]["balked"]
    assert whole["wait.metro.08:00-09:00.count"] == 0          # the warm-up hour is not measured


def test_threshold_windows_are_in_the_summary():
    sc = load(ROOT / "scenarios" / "golden-week.toml", sets=SETS[:3], scale=0.02,
              thresholds=["wait.chongqing.scenic_gate.10:00-12:00.p95<600"])
    s = Simulation(sc).run()
    assert set(s["windows"]) == {"wait.chongqing.scenic_gate.10:00-12:00.p95"}
    assert metric_value(s, "wait.chongqing.scenic_gate.10:00-12:00.p95") >= 0


def test_retime_takes_thresholds_on_any_metric(tmp_path, keys_dir):
    from cardsim import api
    sc = load(ROOT / "scenarios" / "weekday.toml", sets=["simulation.duration_hours=3",
                                                         "simulation.start_hour=7"], scale=0.02)
    api.run(sc, tmp_path / "w.db", keys_dir=keys_dir, workers=1)
    r = api.retime(tmp_path / "w.db", sets=["provinces.sichuan.metro.terminals=1"],
                   thresholds=["wait.sichuan.metro.08:00-09:00.p95<100000",
                               "utilisation.sichuan.metro.chunxi_road.max_hour>2"])
    got = {c["metric"]: c["passed"] for c in r.thresholds}
    assert got == {"wait.sichuan.metro.08:00-09:00.p95": True,
                   "utilisation.sichuan.metro.chunxi_road.max_hour": False}
    assert "wait.sichuan.metro.08:00-09:00.p95" in r.summary["windows"]

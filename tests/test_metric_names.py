import pytest

from conftest import ROOT

from cardsim.config.metric_names import parse_scoped, scoped_names, window_minutes
from cardsim.config.metrics import (METRICS, check_metric, is_window, metric_range, metric_unit,
                                    split_threshold)
from cardsim.config.points import NAME_PATTERN, point_name, point_names
from cardsim.config.scenario import load, loads
from cardsim.errors import ScenarioError


def test_the_grammar_reads_scope_period_and_stat():
    m, err = parse_scoped("wait.chongqing.scenic_gate.site-002.peak.p95")
    assert err is None and (m.family, m.province, m.stype, m.point, m.period, m.stat) == (
        "wait", "chongqing", "scenic_gate", "site-002", "peak", "p95")
    m, _ = parse_scoped("utilisation.sichuan.metro.station-001.max_hour")
    assert (m.point, m.period, m.stat, m.scope) == ("station-001", "day", "max_hour",
                                                    "sichuan.metro.station-001")
    m, _ = parse_scoped("throughput.bus.22:00-02:00")
    assert m.province is None and m.window == (1320, 120)
    assert parse_scoped("throughput.transit") == (None, None)      # a channel's, not a scope's
    assert parse_scoped("throughput.sichuan") == (None, None)


@pytest.mark.parametrize("name, says", [
    ("wait.metro.p96", "ends with one of"),
    ("wait.metro.station-001.p95", "needs its province"),
    ("wait.sichuan.metro.7:00-9:00.p95", "HH:MM-HH:MM"),
    ("wait.sichuan.metro.a.b.p95", "unexpected"),
    ("queue_length.nope", "unknown metric"),
    ("wait.sichuan.metro.08:00-08:00.p95", "empty window"),
])
def test_near_misses_say_what_is_wrong(name, says):
    assert says in check_metric(name)


def test_points_are_checked_against_the_scenario():
    cfg = loads("").config
    assert check_metric("wait.chongqing.scenic_gate.point-4.p95", cfg) is None
    assert "no point point-5 of chongqing.scenic_gate" in check_metric(
        "wait.chongqing.scenic_gate.point-5.p95", cfg)
    named = load(ROOT / "scenarios" / "golden-week.toml").config
    assert check_metric("wait.chongqing.scenic_gate.hongyadong.p95", named) is None
    assert "wait.chongqing.scenic_gate.hongyadong.p95" in scoped_names(named)
    assert len(set(scoped_names(cfg))) == len(scoped_names(cfg))
    assert set(scoped_names()) <= METRICS


def test_point_names_are_metric_name_parts_and_match_terminal_ids():
    cfg = loads("").config
    names = point_names(cfg, "sichuan", "bus")
    assert len(set(names)) == len(names) == cfg["provinces"]["sichuan"]["bus"]["points"]
    assert all(NAME_PATTERN.match(n) and "." not in n for n in names)
    assert point_name(cfg, "chongqing", "scenic_gate", 1) == "point-2"
    named = load(ROOT / "scenarios" / "golden-week.toml").config
    assert point_names(named, "chongqing", "scenic_gate") == [
        "ciqikou", "dazu_rock_carvings", "hongyadong", "wulong_karst"]      # by name


def test_windows_units_and_ranges():
    assert window_minutes("07:30-09:00") == (450, 540) and window_minutes("7-9") is None
    assert is_window("wait.metro.07:00-09:00.p95") and not is_window("wait.metro.peak.p95")
    assert metric_unit("wait.metro.p95") == "s" and metric_unit("throughput.bus") == "customers / h"
    assert metric_unit("throughput.transit") == "transactions / h"
    assert metric_range("utilisation.sichuan.metro") == (0.0, 1.0)
    assert metric_range("balked.metro") == (0.0, None)
    assert metric_range("clearing.net_yuan.sichuan") == (None, None)


def test_command_line_thresholds_join_the_scenario():
    assert split_threshold("wait.metro.p95<=20") == ("wait.metro.p95", "<=20")
    sc = loads('[thresholds]\n"wait.metro.p95" = "< 99"\n',
               thresholds=["wait.metro.p95 < 20", "wait.chongqing.scenic_gate.point-1.peak.p95<60"])
    assert sc.config["thresholds"] == {"wait.metro.p95": "< 20",
                                       "wait.chongqing.scenic_gate.point-1.peak.p95": "<60"}
    with pytest.raises(ScenarioError, match=r"--threshold wait.metro.p95: expected METRIC<OP>NUMBER"):
        loads("", thresholds=["wait.metro.p95"])
    with pytest.raises(ScenarioError, match=r"no point point-9"):
        loads("", thresholds=["wait.chongqing.scenic_gate.point-9.p95<1"])
    with pytest.raises(ScenarioError, match=r"x.toml \(with --set\): thresholds.wait.chongqing.scenic_gate.point-4.p95: no point"):
        loads('[thresholds]\n"wait.chongqing.scenic_gate.point-4.p95" = "< 1"\n', source="x.toml",
              sets=["provinces.chongqing.scenic_gate.points=3"])


def test_intervals_respect_the_metric_range():
    from cardsim.planning.sweep import summarise
    s = summarise([0.0, 0.0, 9.0], *metric_range("wait.metro.p95"))
    assert s["ci_low"] == 0.0 and s["ci_high"] > 9.0 and s["mean"] == 3.0
    s = summarise([0.99, 0.97, 0.4], *metric_range("utilisation.sichuan.metro"))
    assert s["ci_high"] == 1.0 and s["ci_low"] >= 0.0
    s = summarise([-50.0, 10.0], *metric_range("clearing.net_yuan.sichuan"))
    assert s["ci_low"] < -50.0                               # a net position takes either sign
    assert summarise([2.0, 2.0])["ci_low"] == summarise([2.0, 2.0])["ci_high"] == 2.0


def test_command_line_errors_are_one_line(weekday_path):
    from typer.testing import CliRunner
    from cardsim.cli.app import app
    runner = CliRunner()
    r = runner.invoke(app, ["run", str(weekday_path), "--threshold", "wait.sichuan.metro.station-999.p95<1"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "--threshold wait.sichuan.metro.station-999.p95<1: no point station-999" in r.stderr
    r = runner.invoke(app, ["sweep", str(weekday_path), "-n", "2", "--metric", "wait.metro.9-10.p95"])
    assert r.exit_code == 2 and "--metric wait.metro.9-10.p95: unknown metric" in r.stderr


def test_every_metric_name_in_the_docs_is_a_metric():
    import re
    from conftest import ROOT
    cfg = load(ROOT / "scenarios" / "golden-week.toml").config    # the docs' named sites
    names = set()
    for doc in ("README.md", "docs/summary.md", "docs/planning.md", "docs/replay.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        names |= set(re.findall(r"[`']((?:wait|utilisation|queue_length|balked|throughput|revenue_yuan|"
                                r"clearing)\.[A-Za-z0-9_.:-]+?)(?:[`']|<|\s)", text))
    names = {n.rstrip(".") for n in names if "<" not in n}
    assert len(names) >= 10
    for n in sorted(names):
        assert check_metric(n, cfg) is None, (n, check_metric(n, cfg))


def test_long_names_wrap_after_a_dot():
    from cardsim.reports.sweep_view import wrap_name
    assert wrap_name("wait.chongqing.scenic_gate.site-001.peak.p95", 30) == "wait.chongqing.scenic_gate.\nsite-001.peak.p95"
    assert wrap_name("wait.metro.p95", 30) == "wait.metro.p95"
    assert wrap_name("a" * 40, 30) == "a" * 40
    assert wrap_name("wait.chongqing.scenic_gate.site-001.peak.p95", 30).replace("\n", "") == \
        "wait.chongqing.scenic_gate.site-001.peak.p95"

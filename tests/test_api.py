"""The Python API: what ``import cardsim`` exports, results, input checks, keys and the log object."""

import dataclasses
import inspect
import sqlite3
import subprocess
import sys

import pytest

import cardsim
from cardsim import api
from cardsim.config import schema
from cardsim.errors import CardsimError
from cardsim.records.record import COLUMN_NAMES, Record

from conftest import QUICK, ROOT

FUNCTIONS = ("load_scenario", "run", "verify", "replay", "retime", "sweep", "report", "open_log",
             "init_keys")


@pytest.fixture(scope="module")
def signed_log(tmp_path_factory, keys_dir):
    """A short signed run: (its RunResult, the scenario)."""
    sc = cardsim.load_scenario(ROOT / "scenarios" / "weekday.toml", sets=QUICK, scale=0.05)
    out = tmp_path_factory.mktemp("api") / "w.db"
    return cardsim.run(sc, out, keys_dir=keys_dir, workers=2), sc


def test_package_exports_the_api_with_signatures_and_docstrings():
    assert set(FUNCTIONS) | {"CardsimError"} <= set(cardsim.__all__)
    for name in FUNCTIONS:
        fn = getattr(cardsim, name)
        assert fn is getattr(api, name), name
        assert inspect.getdoc(fn) and len(inspect.getdoc(fn)) > 40, name
        sig = inspect.signature(fn)
        assert sig.return_annotation is not inspect.Signature.empty, name
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name
    assert cardsim.CardsimError is CardsimError
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cardsim.nope


def test_importing_cardsim_does_not_load_the_api():
    code = ("import sys, cardsim; assert 'cardsim.api' not in sys.modules; "
            "cardsim.run; assert 'cardsim.api' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_result_carries_summary_thresholds_and_log(signed_log):
    result, _sc = signed_log
    assert result.summary["transactions"] > 1000 and result.log.exists()
    assert result.thresholds == () and result.passed
    assert result.as_dict()["thresholds"] == [] and "thresholds" not in result.summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.log = None


def test_run_evaluates_the_scenarios_thresholds(tmp_path):
    text = (ROOT / "scenarios" / "weekday.toml").read_text()
    (tmp_path / "t.toml").write_text(text + '\n[thresholds]\n"transactions" = "> 10"\n'
                                     '"wait.metro.p95" = "< 0"\n')
    sc = cardsim.load_scenario(tmp_path / "t.toml", sets=QUICK, scale=0.05)
    result = cardsim.run(sc)                      # no log: nothing signed, no keys needed
    checks = {c["metric"]: c["passed"] for c in result.thresholds}
    assert checks == {"transactions": True, "wait.metro.p95": False}
    assert not result.passed and result.log is None


def test_no_keys_are_written_unless_asked(tmp_path, monkeypatch, quick_scenario):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CardsimError, match="keys_dir: a signed log needs keys"):
        cardsim.run(quick_scenario, "a.db")
    assert not (tmp_path / "keys").exists() and not (tmp_path / "a.db").exists()
    cardsim.run(quick_scenario, "b.db", sign=False)
    assert not (tmp_path / "keys").exists()
    cardsim.run(quick_scenario, "c.db", create_keys=True)
    assert (tmp_path / "keys" / "root-ca.pem").exists()


def test_passphrases_are_bytes(tmp_path, quick_scenario):
    written = cardsim.init_keys(tmp_path / "k", passphrase=b"s3cret-passphrase")
    assert b"ENCRYPTED" in next(p for p in written if p.suffix == ".key").read_bytes()
    result = cardsim.run(quick_scenario, tmp_path / "e.db", keys_dir=tmp_path / "k",
                         passphrase=b"s3cret-passphrase", workers=1)
    assert cardsim.verify(result.log, tmp_path / "k", workers=1).ok


def test_open_log_reads_run_scenario_and_records(signed_log):
    result, sc = signed_log
    with cardsim.open_log(result.log) as log:
        assert log.run["completed"] == 1 and log.run["transactions"] == result.summary["transactions"]
        assert log.scenario.config == sc.config and log.scenario.seed == sc.seed
        assert log.summary == result.summary
        records = list(log.transactions())
    assert len(records) == result.summary["transactions"]
    assert all(type(r) is Record for r in records[:10]) and records[0]._fields == COLUMN_NAMES
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert sum(r.outcome == "approved" for r in records) == result.summary["approved"]
    with pytest.raises(sqlite3.ProgrammingError):      # the context manager closed it
        next(log.transactions())


def test_open_log_errors_are_one_line(tmp_path):
    with pytest.raises(CardsimError, match="no such log file"):
        cardsim.open_log(tmp_path / "none.db")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(CardsimError, match="not a cardsim log"):
        cardsim.open_log(tmp_path / "other.db")


@pytest.mark.parametrize("kwargs,message", [
    ({"channel": "boat"}, "--channel: must be one of transit, tourism, government, got 'boat'"),
    ({"province": "yunnan"}, "--province: must be one of"),
    ({"time_from": 7200.0, "time_to": 3600.0}, "--from 7200: must be before --to 3600"),
    ({"time_from": 60.0, "time_to": 60.0}, "--from 60: must be before --to 60"),
    ({"sets": ["provinces.sichuan.metro.terminals=9"]},
     "--set provinces.sichuan.metro.terminals: has no effect in replay"),
    ({"sets": ["provinces.sichuan.metro.journeys_per_day=10"]}, "--set provinces.sichuan.metro.journeys_per_day: has no effect"),
    ({"sets": ["provinces.chongqing.metro.service_time.mean=3"]}, "metro.service_time.mean: has no effect in replay"),
    ({"sets": ["demand.nope=1"]}, "demand.nope: unknown key"),
])
def test_replay_checks_its_input(signed_log, keys_dir, kwargs, message):
    with pytest.raises(CardsimError, match=message.replace("(", r"\(")):
        cardsim.replay(signed_log[0].log, keys_dir=keys_dir, **kwargs)


def test_replay_follows_a_changed_rule(signed_log, keys_dir):
    log = signed_log[0].log
    same = cardsim.replay(log, keys_dir=keys_dir, workers=1, check_signatures=False)
    assert same.diverged == 0 and same.replayed == signed_log[0].summary["transactions"]
    dearer = cardsim.replay(log, keys_dir=keys_dir, workers=1, check_signatures=False,
                            sets=["provinces.sichuan.bus.flat_fare_fen=900"], channel="transit",
                            province="sichuan")
    assert dearer.diverged > 0 and dearer.by_kind["amount"] > 0
    assert dearer.skipped > 0 and dearer.replayed + dearer.skipped == same.replayed


def test_retime_refuses_keys_without_effect_and_evaluates_thresholds(signed_log, tmp_path):
    log = signed_log[0].log
    with pytest.raises(CardsimError, match="--set provinces.sichuan.scenic_gate.visitors_per_day: has no effect in retime"):
        cardsim.retime(log, sets=["provinces.sichuan.scenic_gate.visitors_per_day=10"])
    text = (ROOT / "scenarios" / "weekday.toml").read_text()
    (tmp_path / "t.toml").write_text(text + '\n[thresholds]\n"utilisation.hub" = "> 2"\n')
    result = cardsim.retime(log, tmp_path / "t.toml", workers=1)
    assert result.summary["transactions"] == signed_log[0].summary["transactions"]
    assert [c["metric"] for c in result.thresholds] == ["utilisation.hub"] and not result.passed
    assert result.log is None


def test_every_no_effect_pattern_names_a_scenario_key():
    paths = [k.path.replace("{province}", "sichuan") for k in schema.KEYS]
    paths += [f"{p}.some_point.{f}" for p in paths if schema.KEY_INDEX[p].kind == "points"
              for f in schema.POINT_FIELDS]                 # a named point's fields
    for mode, rules in api.NO_EFFECT.items():
        for pattern, _why in rules:
            assert any(api.fnmatchcase(p, pattern) or api.fnmatchcase(p, pattern + ".*")
                       for p in paths), (mode, pattern)
    api.check_sets(["provinces.sichuan.bus.flat_fare_fen=300",
                    "provinces.sichuan.issuer.outages=[[1.0, 2.0]]"], "replay")
    api.check_sets(["provinces.sichuan.metro.terminals=9"], "retime")


def test_verify_result_reports_failures(signed_log, keys_dir, tmp_path):
    import shutil
    p = tmp_path / "t.db"
    shutil.copy(signed_log[0].log, p)
    con = sqlite3.connect(p)
    con.execute("UPDATE transactions SET amount_fen = amount_fen + 1 WHERE seq = 5")
    con.commit()
    con.close()
    clean = cardsim.verify(signed_log[0].log, keys_dir, workers=1)
    bad = cardsim.verify(p, keys_dir, workers=1)
    assert clean.ok and clean.as_dict()["ok"] and clean.ground_truth is None
    assert not bad.ok and bad.as_dict()["failures"] > 0


def test_report_writes_html(signed_log, tmp_path):
    out = cardsim.report(signed_log[0].log, tmp_path / "r.html")
    assert out == tmp_path / "r.html" and "<svg" in out.read_text()


def test_report_is_the_function_even_after_the_reports_package_loads():
    code = ("import cardsim.reports.html, cardsim.reports.text as text, cardsim; "
            "assert callable(cardsim.report) and cardsim.report.__module__ == 'cardsim.api'; "
            "assert text.__name__ == 'cardsim.reports.text'")
    subprocess.run([sys.executable, "-c", code], check=True)

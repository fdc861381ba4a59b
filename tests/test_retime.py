"""The trace-driven what-if: a log's arrivals through another scenario's capacity and rules."""

import sqlite3

import pytest

from cardsim import api
from cardsim.audit.replay import log_scenario
from cardsim.audit.retime import TraceDemand, retime
from cardsim.audit.verify import verify
from cardsim.config.scenario import load
from cardsim.errors import CardsimError
from cardsim.model.simulation import Simulation
from cardsim.signing.keys import init_keys

from conftest import ROOT

SETS = ["simulation.duration_hours=6", "simulation.start_hour=7"]


@pytest.fixture(scope="module")
def weekday_log(tmp_path_factory, keys_dir):
    """A signed log at scale 0.1 and its run's summary."""
    path = tmp_path_factory.mktemp("retime") / "w.db"
    summary = api.run(load(ROOT / "scenarios" / "weekday.toml", sets=SETS, scale=0.1), out=path,
                      keys_dir=keys_dir, workers=2).summary
    return path, summary


def test_the_log_own_scenario_reproduces_the_run(weekday_log):
    path, original = weekday_log
    same = retime(path)
    assert same["transactions"] == original["transactions"]
    assert same["utilisation"] == original["utilisation"]
    assert same["declined_by_reason"] == original["declined_by_reason"]
    assert set(same) == set(original) | {"trace"}           # the same summary shape
    assert same["trace"] == {"log": str(path), "scenario": "weekday"}


def test_less_capacity_longer_waits_and_a_signed_log(weekday_log, keys_dir, tmp_path):
    path, original = weekday_log
    half = retime(path, log_scenario(path, ["provinces.sichuan.gov_window.terminals=8",
                                            "provinces.sichuan.issuer.servers=2"]),
                  out=tmp_path / "w2.db", keys_dir=keys_dir, workers=2)
    u0, u1 = original["utilisation"], half["utilisation"]
    assert u1["service_points"]["sichuan.gov_window"] == pytest.approx(
        2 * u0["service_points"]["sichuan.gov_window"], rel=0.2)
    assert u1["issuers"]["issuer-sichuan"] > u0["issuers"]["issuer-sichuan"]
    assert half["waits"]["gov_window"]["p95"] >= original["waits"]["gov_window"]["p95"]
    assert verify(tmp_path / "w2.db", keys_dir).ok         # the second log is a real signed log
    con = sqlite3.connect(tmp_path / "w2.db")
    try:
        n, completed = con.execute("SELECT transactions, completed FROM runs").fetchone()
    finally:
        con.close()
    assert (n, completed) == (half["transactions"], 1)


def test_the_scale_reported_is_the_log_one(weekday_log):
    path, original = weekday_log
    rules = load(ROOT / "scenarios" / "weekday.toml", sets=SETS, scale=0.5)
    s = retime(path, rules)
    assert original["scale"] == s["scale"] == 0.1
    assert s["trace"]["scenario"] == "weekday"


def test_encrypted_keys_take_a_passphrase(weekday_log, tmp_path):
    path, _ = weekday_log
    keys = tmp_path / "enc"
    init_keys(keys, passphrase=b"open sesame, please")
    with pytest.raises(CardsimError, match="encrypted"):
        retime(path, out=tmp_path / "x.db", keys_dir=keys)
    s = retime(path, out=tmp_path / "y.db", keys_dir=keys, passphrase=b"open sesame, please")
    assert s["transactions"] > 0 and verify(tmp_path / "y.db", keys).ok


class _PublicOnly:
    """A simulation seen through its public names only: a private one raises."""

    def __init__(self, sim):
        self._sim = sim

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AssertionError(f"the trace reached into Simulation.{name}")
        return getattr(self._sim, name)


class _Guarded:
    def __init__(self, inner):
        self.inner = inner

    def start(self, sim):
        self.inner.start(_PublicOnly(sim))


def test_the_trace_uses_only_public_simulation_methods(weekday_log):
    path, original = weekday_log
    sc = log_scenario(path)
    sc.config["provinces"]["sichuan"]["lost_per_day"] = 0.0    # the trace brings the losses
    sc.config["provinces"]["chongqing"]["lost_per_day"] = 0.0
    sc.config["demand"]["transit"]["transfer_share"] = 0.0     # ... and the transfers
    s = Simulation(sc, demand=_Guarded(TraceDemand(path))).run()
    assert s["transactions"] == original["transactions"]

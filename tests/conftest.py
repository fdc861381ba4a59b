"""Shared fixtures, and the rule that CI skips nothing.

With ``CARDSIM_REQUIRE_ALL=1`` (``.ci/run`` sets it) every skipped test is reported as a failure:
a test that skips because a component is missing (headless Chromium, Dask's ``distributed``)
would otherwise pass CI without having run. Locally, without the variable, such tests skip.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))

#: Environment variable that turns every skip into a failure (set by .ci/run).
REQUIRE_ALL = "CARDSIM_REQUIRE_ALL"

#: A few simulated hours at 2% scale: thousands of transactions, a second or two.
QUICK = ("simulation.duration_hours=6", "simulation.start_hour=6")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work")


@pytest.fixture(autouse=True)
def _work_in_tmp(session_dir, monkeypatch):
    """Tests run in a scratch directory: the default keys/ is created there, never in the repo."""
    monkeypatch.chdir(session_dir)


@pytest.fixture(scope="session")
def keys_dir(session_dir) -> Path:
    from cardsim.signing.keys import init_keys
    d = session_dir / "keys"
    if not (d / "root-ca.pem").exists():
        init_keys(d)
    return d


@pytest.fixture
def weekday_path() -> Path:
    return ROOT / "scenarios" / "weekday.toml"


@pytest.fixture
def quick_scenario(weekday_path):
    from cardsim.config.scenario import load
    return load(weekday_path, sets=QUICK, scale=0.05)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``CARDSIM_REQUIRE_ALL=1``, a skipped test fails with the reason it skipped."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get(REQUIRE_ALL) == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_ALL}=1 and this test skipped: {reason.removeprefix('Skipped: ')}"

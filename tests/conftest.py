from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))

#: A few simulated hours at 2% scale: thousands of transactions, a second or two.
QUICK = ("simulation.duration_hours=6", "simulation.start_hour=6")


@pytest.fixture
def weekday_path() -> Path:
    return ROOT / "scenarios" / "weekday.toml"


@pytest.fixture
def quick_scenario(weekday_path):
    from cardsim.scenario import load
    return load(weekday_path, sets=QUICK, scale=0.05)

import pytest

from cardsim.planning.progress import RunProgress
from cardsim.planning.sweep import plan, run_sweep

from conftest import ROOT


def test_run_progress_adds_the_runs_in_progress():
    seen = []
    p = RunProgress(seen.append)
    p.put((0, 0.5))
    p.put((1, 0.25))
    p.finish(0)
    p.put((0, 0.9))          # a late tick of a finished run changes nothing
    assert seen == [0.5, 0.75, 1.25]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sweep_advances_while_its_runs_run(workers):
    p = plan(ROOT / "scenarios" / "weekday.toml", 2,
             ["provinces.sichuan.gov_window.terminals=2,4", "simulation.duration_hours=1"], scale=0.02)
    seen = []
    run_sweep(p, workers=workers, progress=seen.append)
    assert seen[-1] == 4
    assert any(x != int(x) for x in seen)                    # fractions between finished runs
    assert len(seen) > 4

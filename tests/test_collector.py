"""The collector paused while the model builds and runs (cardsim.model.collector)."""

import gc
import weakref

from cardsim.model import collector


class _Node:
    def __init__(self):
        self.other = None


def test_no_collection_inside_and_the_collector_as_it_was_after():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()          # a caller's choice is kept
    finally:
        gc.enable()


def test_what_was_made_is_aged_unscanned_and_its_cycles_still_collected():
    with collector.paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a            # a cycle only the collector can free
        kept = [_Node() for _ in range(1000)]
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(a) in oldest and all(id(k) in oldest for k in kept)
    assert gc.get_count()[0] < 100 and gc.get_freeze_count() == 0
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None                  # nothing leaked


def test_a_caller_s_frozen_objects_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with collector.paused():
            _made = [_Node() for _ in range(100)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_process_running_simulation_after_simulation_keeps_none_of_the_earlier_ones():
    """A run's leftovers are mostly cycles, aged unscanned: building the next simulation frees
    the earlier ones (a sweep's worker runs many in one process)."""
    from cardsim.config.scenario import load
    from cardsim.model.simulation import Simulation

    from conftest import ROOT

    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.005)
    refs = []
    for _ in range(3):
        sim = Simulation(sc)
        assert sum(r() is not None for r in refs) == 0      # every earlier one freed
        sim.run()
        refs.append(weakref.ref(sim))
        del sim


def test_garbage_made_before_the_block_is_not_aged_with_it():
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    with collector.paused():
        pass
    assert gone() is None


def test_the_cli_s_main_run_in_a_longer_lived_process_leaves_its_collector_alone(monkeypatch):
    """``main`` freezes the objects only as the interpreter ends (the skipped last collection):
    run inside a process that goes on, it freezes nothing."""
    import pytest

    from cardsim.cli.app import main

    monkeypatch.setattr("sys.argv", ["cardsim", "--version"])
    for _ in range(2):
        with pytest.raises(SystemExit):
            main()
    assert gc.get_freeze_count() == 0

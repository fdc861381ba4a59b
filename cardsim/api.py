"""The Python API behind the CLI. Each function does the real work of one command."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .pipeline import LogSink
from .model import Simulation
from .scenario import Scenario


def run(scenario: Scenario, out: str | Path | None = None, force: bool = False,
        progress: Callable[[float], None] | None = None) -> dict:
    """Simulate ``scenario``; write the log to ``out`` (if given); return the summary.

    The log's ``runs.completed`` becomes 1 only when the run ends normally; an interrupted run
    leaves every committed batch intact and the run marked incomplete.
    """
    sink = LogSink(out, scenario, force=force) if out is not None else None
    sim = Simulation(scenario, sink=sink, progress=progress)
    try:
        summary = sim.run()
        if sink is not None:
            sink.finish(summary, sim.wall_seconds, sim.lost)
            sink = None
        return summary
    finally:
        if sink is not None:
            sink.abort()

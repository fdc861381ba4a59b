"""The cyclic garbage collector, paused while the model builds and runs.

Performance shortcut. A day holds millions of live objects (plans, cards, queues, statistics) and
makes almost no reference cycles, so CPython's collector works for nothing while a run is built
and goes on:

- during the run, its full passes were a fifth of a run's CPU, freeing nothing (memory measured
  the same with it off: ``docs/performance.md``);
- after it, its first pass scans every object the run made (0.11 s at scale 1), and while the
  21,800 gate banks are built it makes full passes over the process (0.05 s).

:func:`paused` turns it off and, when done, moves what was made into the oldest generation without
a scan (``gc.freeze`` then ``gc.unfreeze``: two list splices), where a later full pass still finds
any cycle. What a run leaves behind is mostly such cycles (SimPy's processes hold their
environment), and a full pass may not come soon: :func:`free_earlier_runs`, called as each
simulation is built, makes one from a process's second simulation on, so a process running one
after another (a sweep's worker, the tests) does not keep every earlier run (tested).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block; what it made is then aged to the oldest
    generation unscanned (left alone when a caller keeps frozen objects of its own: unfreezing
    would release theirs too). The young generations are collected first, so garbage made
    before the block is not aged with it."""
    enabled = gc.isenabled()
    if enabled:
        gc.collect(1)      # the young garbage already there, as the block's own passes would
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


_built = False      # has this process built a simulation yet


def free_earlier_runs() -> None:
    """A full collection, unless this is the process's first simulation: it frees what earlier
    runs left (see module doc); the first run of a process, a CLI command's, pays nothing."""
    global _built
    if _built:
        gc.collect()
    _built = True

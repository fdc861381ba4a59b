"""A sweep's progress that advances while replications run, not only when one finishes.

Each run reports the simulated share of its span done (the simulation's progress ticks, 200 per
run) as ``(task index, fraction)`` through a queue: a plain object in this process, or a manager
queue read by a thread for worker processes. Progress is the runs finished plus the fractions of
those in progress. (On a Dask cluster runs count when they finish.)
"""

from __future__ import annotations

import threading
from typing import Callable


class RunProgress:
    """Runs finished plus the fractions of the runs in progress, reported to ``callback``."""

    def __init__(self, callback: Callable[[float], None]):
        self.callback = callback
        self.partial: dict[int, float] = {}
        self.finished: set[int] = set()
        self.lock = threading.Lock()

    def put(self, item: tuple[int, float]) -> None:
        """A run's progress: ``(task index, fraction of its span simulated)``."""
        index, fraction = item
        with self.lock:
            if index in self.finished:
                return
            self.partial[index] = min(1.0, max(0.0, float(fraction)))
            self._report()

    def finish(self, index: int) -> None:
        with self.lock:
            self.partial.pop(index, None)
            self.finished.add(index)
            self._report()

    def _report(self) -> None:
        self.callback(len(self.finished) + sum(self.partial.values()))


def drain(queue, tracker: RunProgress) -> threading.Thread:
    """A thread passing ``queue``'s items to ``tracker`` until it reads None."""
    def loop() -> None:
        while (item := queue.get()) is not None:
            tracker.put(item)
    t = threading.Thread(target=loop, name="sweep-progress", daemon=True)
    t.start()
    return t

"""What the service points of one type in one province keep about their customers: columns.

One :class:`PointWaits` per (province, type), for all of its points (a city's 12,000 bus stops
included): for every customer who reached a terminal, the point, the arrival time and the start
of service, appended to three flat arrays, and the balks per point and hour. Terminals' busy time
is kept by each point's bank (``cardsim.model.service_point``).

Performance shortcut: a transit tap costs three appends here, no histogram work (per point and
hour histograms cost 3 us a tap on the test host, and their dicts more memory than the columns'
24 bytes a customer). Every figure a summary reports per type, province or point, for the day,
the peak hour or a clock window (``cardsim.model.scopes``), is computed from the columns once the
run is over (:meth:`PointWaits.columns`), as :class:`cardsim.model.stats.Histogram` figures of the
same 1% buckets.
"""

from __future__ import annotations

from array import array

import numpy as np

from cardsim.model.stats import Histogram, bucket_of, hour_sums


class Columns:
    """The customers of a :class:`PointWaits`, as numpy arrays of one length: ``point``,
    ``arrival``, ``start``, ``wait`` (start - arrival), ``hour`` (of arrival) and ``bucket``
    (the wait's histogram bucket, -1 for no wait)."""

    __slots__ = ("point", "arrival", "start", "wait", "hour", "bucket")

    def __init__(self, point: np.ndarray, arrival: np.ndarray, start: np.ndarray):
        self.point, self.arrival, self.start = point, arrival, start
        self.wait = start - arrival
        self.hour = (arrival // 3600.0).astype(np.int64)
        self.bucket = bucket_of(self.wait)

    def select(self, point: int | None) -> np.ndarray | slice:
        """The rows of one point (None: all of them)."""
        return slice(None) if point is None else self.point == point


def histogram(cols: list[tuple[Columns, np.ndarray | slice]]) -> Histogram:
    """The :class:`Histogram` of the waits in the selected rows of some columns."""
    if not cols:
        return Histogram()
    return Histogram.of(np.concatenate([c.wait[rows] for c, rows in cols]),
                        np.concatenate([c.bucket[rows] for c, rows in cols]))


class PointWaits:
    """The customers and balks of one type's points in one province (see module doc)."""

    __slots__ = ("hours", "_point", "_arrival", "_start", "balked", "hour_balked", "_cols")

    def __init__(self, hours: int):
        self.hours = hours                 # hour sums cover hours 0..hours, the last the rest
        self._point = array("q")
        self._arrival = array("d")
        self._start = array("d")
        self.balked: dict = {}             # point (None: no point to go to) -> balks after warm-up
        self.hour_balked: dict = {}        # (point, hour) -> balks, warm-up included
        self._cols: Columns | None = None

    def wait(self, point: int, arrival: float, start: float) -> None:
        """One customer who arrived at ``point`` at ``arrival`` reached a terminal at ``start``."""
        self._point.append(point)
        self._arrival.append(arrival)
        self._start.append(start)

    def balk(self, point: int | None, now: float, warmup: float) -> None:
        """One customer left ``point`` (None: the type has none) at ``now`` without joining its
        queue."""
        if now >= warmup:
            self.balked[point] = self.balked.get(point, 0) + 1
        key = (point, int(now // 3600.0))
        self.hour_balked[key] = self.hour_balked.get(key, 0) + 1

    def __len__(self) -> int:
        return len(self._point)

    def columns(self) -> Columns:
        """The customers so far as numpy columns (made again only after a :meth:`wait`: the
        cache is checked by its length, so a tap writes nothing but its three values)."""
        if self._cols is None or len(self._cols.point) != len(self._point):
            self._cols = Columns(np.array(self._point, dtype=np.int64),
                                 np.array(self._arrival, dtype=float),
                                 np.array(self._start, dtype=float))
        return self._cols

    def balks(self, point: int | None = None, every: bool = True) -> int:
        """Balks after warm-up at ``point`` (``every``: at all of the type's points, and where
        there was none)."""
        if every:
            return sum(self.balked.values())
        return self.balked.get(point, 0)

    def hour_balks(self, point: int | None = None, every: bool = True) -> dict[int, int]:
        """Balks by hour at ``point`` (``every``: all of them)."""
        out: dict[int, int] = {}
        for (p, h), n in self.hour_balked.items():
            if every or p == point:
                out[h] = out.get(h, 0) + n
        return out

    def queued(self, rows: np.ndarray | slice = slice(None)) -> list[float]:
        """Customer-seconds spent queueing per hour (``hours`` + 1 sums) over the selected rows."""
        c = self.columns()
        return hour_sums(c.arrival[rows], c.start[rows], self.hours)

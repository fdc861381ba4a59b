"""What each service point (a station, a stop, a site, a hall) keeps about its customers.

One :class:`PointStats` per point: waits after warm-up and by arrival hour, balks after warm-up
and by hour, and the customer-seconds spent queueing per hour. Its terminals' busy time is kept
by the point's bank (``cardsim.model.service_point``). Everything a summary reports per type,
province and point, for the day, the peak hour or a clock window, is merged from these
(``cardsim.model.scopes``).
"""

from __future__ import annotations

from cardsim.model.stats import Histogram, HourIntegral


class PointStats:
    __slots__ = ("waits", "hour_waits", "balked", "hour_balked", "waiting")

    def __init__(self, hours: int):
        self.waits = Histogram()                      # arrivals after warm-up
        self.hour_waits: dict[int, Histogram] = {}    # by arrival hour, warm-up included
        self.balked = 0                               # after warm-up
        self.hour_balked: dict[int, int] = {}         # by hour, warm-up included
        self.waiting = HourIntegral(hours)            # customer-seconds in the queue

    def wait(self, arrival: float, start: float, warmup: float) -> None:
        """One customer who arrived at ``arrival`` reached a terminal at ``start``."""
        w = start - arrival
        h = int(arrival // 3600.0)
        hist = self.hour_waits.get(h)
        if hist is None:
            hist = self.hour_waits[h] = Histogram()
        if w <= 0.0:
            # performance shortcut: most customers do not wait; Histogram.add's count of an
            # exact zero, inlined (two calls a transit tap saved)
            hist.n += 1
            hist.zeros += 1
            if arrival >= warmup:
                self.waits.n += 1
                self.waits.zeros += 1
            return
        hist.add(w)
        if arrival >= warmup:
            self.waits.add(w)
        self.waiting.add(arrival, start)

    def balk(self, now: float, warmup: float) -> None:
        """One customer left at ``now`` without joining the queue."""
        if now >= warmup:
            self.balked += 1
        h = int(now // 3600.0)
        self.hour_balked[h] = self.hour_balked.get(h, 0) + 1

    def arrivals(self, h: int) -> int:
        """Customers who arrived in hour ``h`` (served or balked)."""
        hist = self.hour_waits.get(h)
        return (hist.n if hist is not None else 0) + self.hour_balked.get(h, 0)

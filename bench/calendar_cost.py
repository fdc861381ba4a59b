#!/usr/bin/env python3
"""Benchmark: the simulation clock's cost per scheduled call (`cardsim.model.calendar`).

A day-like load: 80,000 travellers waiting (a tenth of the hops hours long, the rest up to two
minutes), 700,000 hops in all, each scheduling the next. The same load runs on the Calendar's
calls and on bare SimPy timeouts with a callback, alternated, fastest of ``--runs``; the ratio
is what to quote. Prints one JSON object.

    python bench/calendar_cost.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from _common import ROOT

sys.path.insert(0, str(ROOT))

import simpy  # noqa: E402

from cardsim.model.calendar import Calendar  # noqa: E402


def hops(env, schedule, waiting: int = 80_000, total: int = 700_000) -> float:
    """Seconds to run ``total`` hops with ``waiting`` travellers pending."""
    rnd = random.Random(1)
    done = 0

    def hop(_):
        nonlocal done
        done += 1
        if done < total:
            schedule(env, env.now + rnd.random() * (36_000.0 if rnd.random() < 0.1 else 120.0), hop)

    for _ in range(waiting):
        schedule(env, rnd.random() * 80_000.0, hop)
    t0 = time.perf_counter()
    env.run(until=1e9)
    return time.perf_counter() - t0


def by_call(env, t, fn):
    env.call_at(t, fn)


def by_timeout(env, t, fn):
    env.timeout(t - env.now).callbacks.append(fn)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    cal, sim = [], []
    for _ in range(a.runs):
        cal.append(hops(Calendar(), by_call))
        sim.append(hops(simpy.Environment(), by_timeout))
    n = 700_000
    print(json.dumps({"hops": n, "calendar_us_per_hop": round(min(cal) / n * 1e6, 3),
                      "simpy_timeout_us_per_hop": round(min(sim) / n * 1e6, 3),
                      "ratio_calendar_over_simpy": round(min(cal) / min(sim), 3)}))


if __name__ == "__main__":
    main()

"""The simulation clock (cardsim.model.calendar): plain calls and SimPy events on one clock."""

import pytest
import simpy

from cardsim.model.calendar import WINDOW, Calendar


def test_calls_run_at_their_times_in_order_and_in_turn_at_equal_times():
    env = Calendar()
    seen = []
    times = [5.0, 3 * WINDOW + 1.0, 0.5, 5.0, 10 * WINDOW, 5.0, WINDOW - 1e-9, WINDOW]
    for i, t in enumerate(times):
        env.call_at(t, lambda arg: seen.append((env.now, arg)), i)
    env.run()
    assert seen == sorted(((t, i) for i, t in enumerate(times)))


def test_a_call_can_schedule_calls_now_later_and_in_the_past():
    env = Calendar()
    seen = []

    def hop(k):
        seen.append((env.now, k))
        if k < 6:
            env.call_at(env.now + (0.0, 2.5 * WINDOW, -7.0)[k % 3], hop, k + 1)

    env.call_at(1.0, hop, 0)
    env.run()
    assert [k for _, k in seen] == list(range(7))
    assert [t for t, _ in seen] == sorted(t for t, _ in seen)      # the past means now
    assert seen[-1][0] == pytest.approx(1.0 + 2 * 2.5 * WINDOW)


def test_calls_and_simpy_events_share_one_clock_simpy_first_at_equal_times():
    env = Calendar()
    seen = []

    def proc():
        for t in (2.0, 4.0):
            yield env.timeout(t - env.now)
            seen.append(("event", env.now))

    env.process(proc())
    for t in (1.0, 2.0, 3.0, 4.0, 500.0):
        env.call_at(t, lambda _: seen.append(("call", env.now)))
    env.run(until=100.0)
    assert seen == [("call", 1.0), ("event", 2.0), ("call", 2.0), ("call", 3.0),
                    ("event", 4.0), ("call", 4.0)]
    assert env.now == 100.0
    env.run()
    assert seen[-1] == ("call", 500.0) and env.peek() == float("inf")


def test_an_event_a_call_starts_runs_before_the_calls_after_it():
    env = Calendar()
    seen = []

    def starts(_):
        seen.append(("call", env.now))
        for dt in (0.0, 0.5):
            env.timeout(dt).callbacks.append(lambda e: seen.append(("event", env.now)))

    env.call_at(1.0, starts)
    for t in (1.0, 1.2, 2.0):
        env.call_at(t, lambda _: seen.append(("call", env.now)))
    env.run()
    # the event at 1.0 before the call at 1.0 (SimPy first at equal times), the one at 1.5
    # before the call at 2.0: a stretch of calls ends where a call's event comes
    assert seen == [("call", 1.0), ("event", 1.0), ("call", 1.0), ("call", 1.2),
                    ("event", 1.5), ("call", 2.0)]


def test_an_empty_calendar_ends_as_simpy_does():
    env = Calendar()
    env.run()
    with pytest.raises(simpy.core.EmptySchedule):
        env.step()


@pytest.mark.parametrize("seed", range(5))
def test_calls_scheduled_from_calls_run_in_time_then_scheduling_order(seed):
    """Calls scheduled into the current bucket (before, between and after its calls, at equal
    times), into later buckets and into the past, with SimPy events among them: each runs at its
    time, and calls at equal times in the order they were scheduled."""
    import random

    rng = random.Random(seed)
    env = Calendar()
    order = iter(range(10**9))
    seen = []
    delays = (0.0, 0.0, 0.25, 0.5, WINDOW - 1e-9, WINDOW, 1.5 * WINDOW, 40 * WINDOW, -3.0)

    def call(arg):
        due, n = arg
        seen.append((env.now, due, n))
        if len(seen) < 3000:
            for _ in range(rng.choice((1, 1, 2))):
                t = env.now + rng.choice(delays)
                env.call_at(t, call, (max(t, env.now), next(order)))

    def proc():
        while True:
            yield env.timeout(rng.choice((0.3, 0.7, 5.0)))
            t = env.now + rng.choice(delays)
            env.call_at(t, call, (max(t, env.now), next(order)))

    for _ in range(20):
        t = rng.uniform(0, 10)
        env.call_at(t, call, (t, next(order)))
    env.process(proc())
    env.run(until=400.0)
    assert all(now == due for now, due, _ in seen)
    assert [(due, n) for _, due, n in seen] == sorted((due, n) for _, due, n in seen)

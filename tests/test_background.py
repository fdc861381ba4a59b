"""Other payers at a gate bank (cardsim.model.background): drawn where the queue reaches them,
the same whenever it is asked, at the rates and in the waves the scenario gives."""

import numpy as np
import pytest

from cardsim.model import kernels as B
from cardsim.model.background import Background, Rates, wave_after
from cardsim.model.distributions import Deterministic, Exponential, Lognormal
from cardsim.model.service_point import GateBank
from cardsim.model.stats import HourIntegral

DAY = 86400.0


def bank(headway=240.0, spread=60.0, per_day=50_000.0, gates=4, rates=None, key=7):
    rates = np.full(96, per_day / DAY) if rates is None else rates
    svc = Lognormal(2.7, 0.3)
    return GateBank(gates, 3600.0, DAY, Background(Rates(rates, 0.0, DAY, svc), 1.0, headway,
                                                   11.0, spread, key), svc, 99)


@pytest.mark.parametrize("headway,spread", [(240.0, 60.0), (0.0, 0.0), (60.0, 300.0)])
def test_other_payers_do_not_depend_on_when_the_queue_is_asked(headway, spread):
    """A card holder who takes no time changes no one's service: asked once or a thousand times,
    with a buffer that had to grow, the other payers and their load are the same, bit for bit."""
    once, often, grown = bank(headway, spread), bank(headway, spread), bank(headway, spread)
    grown.buf = np.zeros((2, 1))
    once.admit(0.0, 0.0)
    for t in np.arange(0.0, DAY, 86.4):
        often.admit(float(t), 0.0)
        grown.admit(float(t), 0.0)
    for b in (once, often, grown):
        b.finish(DAY)
    assert once.other_payers() == often.other_payers() == grown.other_payers() > 40_000
    assert once.background_busy == often.background_busy == grown.background_busy
    assert once.hourly.sums == often.hourly.sums == grown.hourly.sums
    assert grown.buf.shape[1] > 1 or not headway     # waves only: one by one needs none


def test_a_point_s_other_payers_are_its_own_stream():
    a, b = bank(key=7), bank(key=8)
    for x in (a, b):
        x.admit(0.0, 0.0)
        x.finish(DAY)
    assert a.other_payers() != b.other_payers()
    assert a.other_payers() == pytest.approx(b.other_payers(), rel=0.03)


@pytest.mark.parametrize("headway", [240.0, 0.0])
def test_arrivals_follow_the_slot_rates(headway):
    """Rates that are zero half the day: nobody arrives then, and the day's count is the
    expected one."""
    rates = np.zeros(96)
    rates[32:80] = 2.0          # 08:00-20:00, two a second
    b = bank(headway, 30.0, rates=rates, gates=8)
    b.admit(0.0, 0.0)
    b.finish(DAY)
    expected = b.background.expected_passengers()
    assert expected == pytest.approx(2.0 * 12 * 3600, rel=1e-9)
    assert b.other_payers() == pytest.approx(expected, rel=0.01)
    sums = b.hourly.sums
    assert sum(sums[:8]) == 0.0 and sum(sums[21:]) == 0.0 and min(sums[9:19]) > 0.0


@pytest.mark.parametrize("spread", [10.0, 60.0, 1000.0])
def test_pending_passengers_stay_in_arrival_order_when_waves_overlap(spread):
    """draw_wave merges a wave into the passengers still pending (spread > headway: waves
    overlap); the queue serves them in the order of the buffer, which must be arrival order."""
    b = bank(headway=120.0, spread=spread, per_day=200_000.0)
    f, u = b.f, b.u
    waves = 0
    while f[B.NEXT] < 40_000.0:
        while not B.draw_wave(f, u, b.buf, b.rates):
            b._grow()                                 # as GateBank.admit does
        waves += 1
        pending = b.buf[0, int(u[B.HEAD]):int(u[B.TAIL])]
        assert (np.diff(pending) >= 0).all()
        if int(u[B.TAIL]) - int(u[B.HEAD]) > 200:
            u[B.HEAD] = u[B.TAIL] - np.uint64(1)      # as if the queue had served them
    assert waves == int(np.ceil((40_000.0 - 11.0) / 120.0))


def test_an_unused_point_books_its_expected_load():
    b = bank(per_day=10_000.0, gates=2)
    b.finish(DAY)
    assert not b.started and b.other_payers() == 10_000
    assert b.busy == pytest.approx(10_000 * 2.7 * (DAY - 3600.0) / DAY, rel=1e-6)


def test_a_bank_without_other_payers_serves_only_card_holders():
    b = GateBank(2, 0.0, DAY, None, Deterministic(3.0), 5)
    assert b.admit(10.0) == (10.0, 0)
    assert b.admit(10.0) == (10.0, 1)
    assert b.admit(10.0) == (13.0, 0)
    b.finish(DAY)
    assert b.other_payers() == 0 and b.busy == pytest.approx(9.0)


def test_waves_come_when_card_holders_reach_them():
    """The kernel's wave times are the holders' (background.wave_after), bit for bit: with no
    spread a holder arriving with a wave is never an ulp before or after it."""
    b = bank(headway=600.0 / 7.0, spread=0.0, per_day=5_000.0)
    f, u = b.f, b.u
    while f[B.NEXT] < DAY:
        w = f[B.NEXT]
        assert w == wave_after(w - 1e-3, 600.0 / 7.0, 11.0) == wave_after(w, 600.0 / 7.0, 11.0)
        assert B.draw_wave(f, u, b.buf, b.rates)
        u[B.HEAD] = u[B.TAIL]


def test_card_holders_and_other_payers_share_one_service_distribution():
    rates = Rates(np.full(96, 0.1), 0.0, DAY, Lognormal(2.7, 0.3))
    with pytest.raises(ValueError, match="one service-time distribution"):
        GateBank(2, 0.0, DAY, Background(rates, 1.0, 0.0, 0.0, 0.0, 1), Deterministic(2.0), 1)
    with pytest.raises(ValueError, match="no service-time distribution"):
        GateBank(2).admit(1.0)
    drawn = GateBank(2, 0.0, DAY, Background(rates, 1.0, 0.0, 0.0, 0.0, 1))
    start, _ = drawn.admit(50.0)
    assert start >= 50.0 and drawn.busy > 0.0


def test_a_card_holder_s_busy_time_is_split_over_the_hours_as_hour_integral_does():
    """The kernel's hour split (kernels._book_hours) against HourIntegral.add, the rule's Python
    home, for services that cross hour boundaries and run past the last hour."""
    b = GateBank(1, 0.0, 3 * 3600.0, None, Deterministic(5000.0), 1)
    ref = HourIntegral(len(b.hourly.sums) - 1)
    for t in (100.0, 3590.0, 9000.0):
        start, _ = b.admit(t)
        ref.add(start, start + 5000.0)
    b.finish(3 * 3600.0)
    assert b.hourly.sums == pytest.approx(ref.sums, abs=1e-9)


def horizon_bank(horizon, per_day=50_000.0, gates=4, headway=240.0, spread=60.0, key=7):
    b = bank(headway, spread, per_day, gates, key=key)
    b.background.horizon = horizon
    b.background.fill(b.f, b.u)
    return b


def test_waves_far_before_a_card_holder_are_booked_at_their_expected_load():
    """With a horizon, the waves whose queue is gone before the card holder comes are not drawn:
    the holders start when they would have with every wave drawn, and the other payers' count
    and load are the expected ones where they were skipped."""
    full, near = horizon_bank(float("inf")), horizon_bank(120.0)
    for t in (5000.0, 30_000.0, 30_050.0, 61_000.0, 80_000.0):
        assert full.admit(t) == near.admit(t)
    for b in (full, near):
        b.finish(DAY)
    drawn = int(near.u[B.COUNT])
    assert 0 < drawn < full.other_payers() / 10
    assert near.f[B.SKIPPED] > 0
    assert near.other_payers() == pytest.approx(full.other_payers(), rel=0.01)
    assert near.background_busy == pytest.approx(full.background_busy, rel=0.01)
    assert sum(near.hourly.sums) == pytest.approx(sum(full.hourly.sums), rel=0.01)


# (headway, spread, load per terminal, terminals): light and heavy, short and long headways,
# waves that overlap (spread > headway)
BANKS = [(240.0, 60.0, 0.3, 8), (240.0, 60.0, 0.79, 2), (60.0, 0.0, 0.79, 1), (60.0, 10.0, 0.5, 1),
         (600.0, 10.0, 0.79, 2), (900.0, 10.0, 0.79, 2), (1800.0, 10.0, 0.3, 2),
         (240.0, 300.0, 0.5, 2), (600.0, 10.0, 0.02, 2)]


@pytest.mark.parametrize("headway,spread,load,gates", BANKS)
def test_card_holders_at_any_time_start_as_with_every_wave_drawn(headway, spread, load, gates):
    """Card holders at random times (not with the waves, as in a retimed trace): each starts
    when it would with every wave drawn, at light loads and heavy, long headways and short."""
    per_day = load * gates / 2.7 * DAY
    skipped = 0.0
    for key in range(6):
        full = horizon_bank(float("inf"), per_day, gates, headway, spread, key)
        near = horizon_bank(120.0, per_day, gates, headway, spread, key)
        for t in np.sort(np.random.default_rng(key).uniform(0.0, DAY, 150)).tolist():
            assert full.admit(t) == near.admit(t)
        skipped += near.f[B.SKIPPED]
    if load <= 0.3:
        assert skipped > 0                  # light banks do skip waves


def test_a_wave_whose_queue_may_outlast_the_headway_is_drawn():
    """0.79 of one terminal's capacity in waves a minute apart: a wave's queue can run into the
    next, so none is skipped; at 0.05 they are."""
    heavy, light = (horizon_bank(120.0, x / 2.7 * DAY, 1, 60.0, 10.0) for x in (0.79, 0.05))
    for b in (heavy, light):
        b.admit(40_000.0)
    assert heavy.f[B.SKIPPED] == 0.0 and light.f[B.SKIPPED] > 0.0


def test_a_wave_is_skipped_only_when_the_bank_is_idle_and_its_queue_gone_in_time():
    b = horizon_bank(120.0)
    f, u, w = b.f, b.u, float(b.f[B.NEXT])
    assert B._skippable(f, u, b.rates, w, w + 1000.0, 120.0)
    assert not B._skippable(f, u, b.rates, w, w + 60.0 + 120.0, 120.0)   # its spread reaches in
    f[B.FREE + 2] = w + 1.0                                   # a terminal still busy
    assert not B._skippable(f, u, b.rates, w, w + 5000.0, 120.0)
    f[B.FREE + 2] = 0.0
    u[B.TAIL] = u[B.HEAD] + np.uint64(1)                      # a passenger still pending
    assert not B._skippable(f, u, b.rates, w, w + 5000.0, 120.0)


def test_after_the_last_card_holder_every_clearing_wave_is_booked_at_its_expected_load():
    b = horizon_bank(120.0)
    b.admit(3000.0)
    drawn = int(b.u[B.COUNT])
    b.finish(DAY)
    assert int(b.u[B.COUNT]) == drawn
    assert b.other_payers() == pytest.approx(50_000, rel=0.01)


def targeted(svc, headway, per_s, gates, key):
    """(every wave drawn, horizon 120 s) banks, and card holders each just after a wave's
    queue bound plus the horizon (so that wave is skipped if it can be), every third wave."""
    banks = [GateBank(gates, 0.0, DAY, Background(Rates(np.full(96, per_s), 0.0, DAY, svc), 1.0,
                                                  headway, 11.0, 10.0, key, h), svc, 99)
             for h in (float("inf"), 120.0)]
    n, m2 = per_s * headway, svc.second_moment
    bound = 10.0 + (n * svc.mean + B.Z * np.sqrt(n * m2)) / gates + svc.quantile(1 - B.TAIL_P)
    rng = np.random.default_rng(key)
    times = [11.0 + k * headway + bound + 120.0 + rng.uniform(0, 2)
             for k in range(0, int((DAY - 3600) / headway), 3)]
    return banks, times


@pytest.mark.parametrize("svc,headway,skips", [(Lognormal(2.7, 0.3), 600.0, True),
                                               (Exponential(2.7), 600.0, True),
                                               (Lognormal(2.7, 2.0), 600.0, False),
                                               (Lognormal(2.7, 2.0), 1800.0, False)])
def test_a_holder_right_after_a_skipped_wave_s_bound_waits_as_in_a_full_run(svc, headway, skips):
    """The worst place for a holder: just after the bound on a skipped wave's queue. A heavy
    tailed service time (lognormal, cv 2: one passenger can hold a gate for many headways) makes
    the bound longer than the headway, so no wave is skipped; lighter tails skip and match."""
    skipped = 0.0
    for key in range(40):
        (full, near), times = targeted(svc, headway, 0.02, 1, key)
        for t in times:
            assert full.admit(float(t)) == near.admit(float(t))
        skipped += near.f[B.SKIPPED]
    assert (skipped > 0) == skips


def test_a_skipped_wave_counts_only_its_passengers_before_the_end():
    """A wave whose spread runs past the end of the run keeps, like a draw, only the passengers
    who come before it: booked waves add up to the expected arrivals before the end."""
    headway, spread, end, per_s = 240.0, 200.0, 11.0 + 50 * 240.0 + 100.0, 0.01
    svc = Lognormal(2.7, 0.3)
    b = GateBank(2, 0.0, end, Background(Rates(np.full(96, per_s), 0.0, end, svc), 1.0, headway,
                                         11.0, spread, 7, 120.0), svc, 99)
    b.admit(0.0)
    b.finish(end)
    assert int(b.u[B.COUNT]) == 0
    waves = 11.0 + headway * np.arange(51)
    expected = per_s * headway * np.clip((end - waves) / spread, 0.0, 1.0)
    assert b.f[B.SKIPPED] == pytest.approx(float(expected.sum()), rel=1e-12)

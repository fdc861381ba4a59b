"""Demand: open arrivals whose rate follows an hour-of-day profile.

The rate is piecewise constant per clock hour, so a non-homogeneous Poisson process is generated
exactly: exponential gaps at the hour's rate, restarted at each hour boundary (memorylessness).
"""

from __future__ import annotations

from typing import Callable

import simpy

#: Cross-province service items. The seed names 24 in the first batch without listing them; these
#: names are illustrative. The pension-insurance transfer, which the seed singles out, is first.
GOVERNMENT_ITEMS = (
    "pension_transfer", "medical_insurance_transfer", "unemployment_insurance_transfer",
    "pension_qualification", "contribution_record", "card_application", "card_loss_report",
    "card_replacement", "card_activation", "employment_registration", "unemployment_registration",
    "job_seeker_registration", "startup_loan", "skill_certificate_query",
    "professional_title_query", "work_injury_record", "maternity_insurance_record",
    "retirement_application", "pension_payment_record", "medical_record_filing",
    "talent_archive_transfer", "labour_dispute_filing", "training_subsidy", "social_security_query",
)


def government_item(i: int) -> str:
    return GOVERNMENT_ITEMS[i] if i < len(GOVERNMENT_ITEMS) else f"item_{i + 1:03d}"


def hourly_rates(dcfg: dict, share: float) -> list[float]:
    """Arrivals per second for each clock hour 0..23 for one province's share of a channel."""
    peak = dcfg["peak_per_hour"] * share
    return [peak * w / 3600.0 for w in dcfg["profile"]]


def arrival_stream(env: simpy.Environment, rates: list[float], start_hour: float,
                   unit_exp: Callable[[], float], on_arrival: Callable[[float], None]):
    """SimPy process calling ``on_arrival(now)`` at each arrival.

    ``rates`` are per second for clock hours 0..23; ``unit_exp`` draws Exp(1) variates.
    """
    offset = start_hour * 3600.0
    while True:
        clock = offset + env.now
        seg_end = env.now + (3600.0 - clock % 3600.0)
        rate = rates[int(clock // 3600.0) % 24]
        if rate > 0.0:
            t = env.now
            while True:
                t += unit_exp() / rate
                if t >= seg_end:
                    break
                yield env.timeout(t - env.now)
                on_arrival(env.now)
        gap = seg_end - env.now
        if gap <= 1e-9:  # float rounding put the boundary at or before now: take the next one
            gap = 3600.0 - (offset + env.now) % 3600.0
        yield env.timeout(gap)

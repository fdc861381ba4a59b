"""Default time-of-day profiles at 15-minute resolution (96 slots from 00:00), one per trip purpose.

Each profile is a relative density of departures over the day (its scale does not matter: the
model normalises it). The shapes are labelled assumptions built from a few peaks whose position
and width follow the public figures in ``docs/sources.md`` (a weekday morning peak hour carrying
about a seventh of a metro's daily entries, centred near 08:00; an evening peak near 18:00 that is
flatter; offices open 09:00-12:00 and 13:30-17:30; scenic sites open about 08:00-17:30).
"""

from __future__ import annotations

import math

SLOTS = 96                      # 15-minute slots in a day
SLOT_S = 900.0


def _bumps(peaks: list[tuple[float, float, float]], floor: float = 0.0,
           open_h: tuple[float, float] = (0.0, 24.0)) -> list[float]:
    """A profile from Gaussian peaks ``(centre hour, sd hours, height)`` over a ``floor``, zero
    outside the opening hours ``open_h``; rounded to 3 decimals, peak scaled to 1."""
    raw = []
    for s in range(SLOTS):
        h = (s + 0.5) / 4.0
        if not open_h[0] <= h < open_h[1]:
            raw.append(0.0)
            continue
        raw.append(floor + sum(a * math.exp(-0.5 * ((h - c) / w) ** 2) for c, w, a in peaks))
    top = max(raw)
    return [round(x / top, 3) for x in raw]


#: Commuters' and students' outbound journeys: a sharp morning peak (08:00, sd 40 min).
COMMUTE_OUT = _bumps([(8.0, 0.65, 1.0), (7.2, 0.5, 0.35), (13.0, 1.5, 0.06)], floor=0.005,
                     open_h=(5.5, 23.5))
#: Return journeys: a flatter evening peak (18:00, sd 55 min).
COMMUTE_BACK = _bumps([(18.0, 0.9, 1.0), (17.3, 0.4, 0.3), (21.0, 1.2, 0.15)], floor=0.01,
                      open_h=(11.0, 23.5))
#: Other journeys (shopping, errands, visits, seniors' trips): daytime, off the peaks.
OTHER = _bumps([(10.0, 1.6, 1.0), (15.5, 2.0, 0.85), (19.5, 1.2, 0.5)], open_h=(6.0, 23.0))
#: Arrivals at scenic sites: mornings, with a late-morning peak.
SCENIC = _bumps([(10.0, 1.2, 1.0), (13.5, 1.5, 0.55)], open_h=(7.5, 17.5))
#: Government service halls: office hours, two sessions.
OFFICE = _bumps([(10.0, 0.9, 1.0), (15.0, 0.9, 0.9)], open_h=(9.0, 17.5))
#: Departures of intercity trains (Chengdu <-> Chongqing): 07:00-21:00 with a morning peak.
INTERCITY = _bumps([(8.5, 1.2, 1.0), (17.5, 1.5, 0.8)], floor=0.3, open_h=(6.5, 21.5))

#: Golden week: leisure travel all day, no commuter peaks.
HOLIDAY_OTHER = _bumps([(11.0, 2.5, 1.0), (16.0, 2.5, 0.9), (20.0, 1.0, 0.4)], open_h=(6.0, 23.5))

DEFAULTS = {
    "commute_out": COMMUTE_OUT, "commute_back": COMMUTE_BACK, "other": OTHER,
    "scenic": SCENIC, "office": OFFICE, "intercity": INTERCITY,
}

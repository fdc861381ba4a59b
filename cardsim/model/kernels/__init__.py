"""The model's compiled code (numba): random draws, the other payers' arrivals, the gate banks'
queue with the layout of the state they share, and the holders' plans.

One module an idea: :mod:`.draws` (random draws), :mod:`.gate` (the gate banks' state and
queue), :mod:`.plans` (the holders' days). Their compiled functions are cached on disk with a
stamp over all three (:mod:`._cache`): numba compiles a called function into its caller, so a
cache stamped with the caller's file alone could go on running a changed callee's old version.

**Random draws** come from counter-based streams: a stream is a 64-bit key, its n-th uniform
SplitMix64 of (key, n), as in :class:`cardsim.model.holders.HashStream`. A draw is a function of
(key, n) alone, so a kernel keeps no generator object: a point's other payers and service times
come from keys of its own (common random numbers: what one point draws never depends on another),
and a wave can be drawn again from scratch (:func:`wave_key`) if its buffer had to grow.
Distribution codes are those of ``params`` in :mod:`cardsim.model.distributions`: 0
deterministic, 1 exponential, 2 lognormal, 3 gamma, 4 uniform.

**The other payers** (:mod:`cardsim.model.background`) are drawn as the queue reaches them:
waves (:func:`draw_wave`) or one by one (:func:`draw_arrival`). **The queue**
(:class:`cardsim.model.service_point.GateBank`) serves them first come, first served, with the
card holders (:func:`gate`, :func:`absorb`). **A holder's day** (:func:`plan`) is drawn in one
go from the holder's stream: its steps, their times from the 15-minute profiles, each journey's
legs, and the walks and waits around them (:class:`cardsim.model.holders.Planner`).
"""
from ._cache import install as _install

_install()      # before any compiled function below is made: they are cached with its stamp

from .draws import mix, normal, poisson, uniform, variate, wave_key  # noqa: E402
from .gate import (  # noqa: E402
    BG_BUSY, BUSY, COUNT, END, FREE, HEAD, HEADWAY, HI, HORIZON, KEY, KIND, LO, MEAN_S, NEXT,
    NEXT_S, PA, PB, PHASE, SCALE, SKEY, SKIPPED, SN, SQ_S, SPREAD, START_S, STARTED, TAIL, TAIL_P,
    TAIL_S, TURN, U_SIZE, WAVE, Z, _book_hours, _book_other, _earliest, _passengers, _rate,
    _skip_wave, _skippable, absorb, draw_arrival, draw_wave, gate,
)
from .plans import (  # noqa: E402
    H_GOV, H_LOCAL, H_TOURIST, H_TWOWAY, H_VISITOR, K_GOV, K_JOURNEY, K_MOVE, K_SCENIC, LEG_W,
    M_BUS, M_METRO, P_BACK, P_FIRST, P_LATER, S_ACCESS, S_AFTER, S_AT, S_ITEM, S_KIND, S_LEG,
    S_LEGS, S_POINT, S_PROV, S_TRANSFER, STEP_W, T_ACCESS, T_GAP, T_INTERCITY, T_KM_BUS,
    T_KM_METRO, T_TRANSFER, T_VISIT, bisect_left, bisect_right, first_clocks, plan,
    profile_after, profile_clock,
)

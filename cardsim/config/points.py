"""The names of service points (a station, a boarding point, a scenic site, a service hall).

One home for the name of point ``k`` (0-based) of a type in a province: metrics
(``wait.chongqing.scenic_gate.site-002.p95``), reports and the summary all call
:func:`point_name`. The names are derived from what the scenario knows: the type's noun and the
point's number, the same number its terminals carry (``CQ-SCN-002-01`` is a terminal of
``site-002``). A scenario that names its points one day replaces this one function.

A name is one part of a dotted metric name: no dot, no white space (:data:`NAME_PATTERN`).
"""

from __future__ import annotations

import re

#: What a point of each type is called.
POINT_NOUN = {"metro": "station", "bus": "stop", "scenic_gate": "site", "gov_window": "hall"}

#: A point name: letters, digits, ``_`` and ``-`` (it is one part of a dotted metric name).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def point_name(cfg: dict, province: str, stype: str, k: int) -> str:
    """The name of point ``k`` (0-based) of ``stype`` in ``province``, e.g. ``site-002``."""
    return f"{POINT_NOUN[stype]}-{k + 1:03d}"


def point_names(cfg: dict, province: str, stype: str) -> list[str]:
    """Every point's name of ``stype`` in ``province``, in point order."""
    n = cfg["provinces"][province][stype]["points"]
    return [point_name(cfg, province, stype, k) for k in range(n)]

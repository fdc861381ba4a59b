"""The names of service points (a station, a boarding point, a scenic site, a service hall).

One home for the name and order of the points of a type in a province: the model's places
(``cardsim.model.places``), metrics (``wait.chongqing.scenic_gate.wulong_karst.p95``), reports
and the summary all call :func:`point_names`. The scenario's named points come first, by name
(:func:`named_points`), then its unnamed ones, ``point-1``, ``point-2``, ...; point ``k`` carries
the terminals ``XX-TTT-<k+1>-NN``.

A name is one part of a dotted metric name: no dot, no white space (:data:`NAME_PATTERN`).
"""

from __future__ import annotations

import re

#: What a point of each type is called.
POINT_NOUN = {"metro": "station", "bus": "stop", "scenic_gate": "site", "gov_window": "hall"}

#: A point name: letters, digits, ``_`` and ``-`` (it is one part of a dotted metric name).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def named_points(sp: dict) -> list[tuple[str, dict]]:
    """A service point type's named points in their one order, by name (a scenario's table and
    the same configuration read back from a log's sorted JSON give the same order)."""
    return sorted(sp["named"].items())


def point_names(cfg: dict, province: str, stype: str) -> list[str]:
    """Every point's name of ``stype`` in ``province``, in point order."""
    sp = cfg["provinces"][province][stype]
    return [n for n, _f in named_points(sp)] + [f"point-{k + 1}" for k in range(sp["points"])]


def point_name(cfg: dict, province: str, stype: str, k: int) -> str:
    """The name of point ``k`` (0-based) of ``stype`` in ``province``."""
    sp = cfg["provinces"][province][stype]
    named = named_points(sp)
    return named[k][0] if k < len(named) else f"point-{k - len(named) + 1}"

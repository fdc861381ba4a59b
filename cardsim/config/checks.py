"""Checking one scenario value against its schema key: each check returns ``(value, None)`` (the
value as the model reads it) or ``(None, "what was expected")``; ``scenario.py`` turns the second
into a one-line error naming the file and the key."""

from __future__ import annotations

import datetime
import math
from typing import Any

from cardsim.config.schema import DISTRIBUTION_KINDS, POINT_FIELDS, Key


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_value(key: Key, v: Any) -> tuple[Any, str | None]:
    """``(the value as the model reads it, None)``, or ``(None, "what was expected")``."""
    return _CHECKS[key.kind](key, v)


def _check_int(key: Key, v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, int) or isinstance(v, bool):
        return None, f"must be an integer, got {_show(v)}"
    return _bounds(key, v)


def _check_float(key: Key, v: Any) -> tuple[Any, str | None]:
    if not _is_num(v):
        return None, f"must be a number, got {_show(v)}"
    _, err = _bounds(key, v)
    return (None, err) if err else (float(v), None)


def _check_bool(key: Key, v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, bool):
        return None, f"must be true or false, got {_show(v)}"
    return v, None


def _check_str(key: Key, v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str) or (key.choices and v not in key.choices):
        return None, f"must be one of {', '.join(repr(c) for c in key.choices or ())}, got {_show(v)}"
    return v, None


def _check_list(key: Key, v: Any) -> tuple[Any, str | None]:
    """``floats`` and ``ints``: a list of numbers >= 0, of ``key.length`` items when set."""
    ints = key.kind == "ints"
    if not isinstance(v, list):
        return None, f"must be a list of {'integers' if ints else 'numbers'}, got {_show(v)}"
    for i, x in enumerate(v):
        err = _item_error(x, ints)
        if err:
            return None, f"item {i} {err}, got {_show(x)}"
    if key.length is not None and len(v) != key.length:
        return None, f"must have {key.length} items, got {len(v)}"
    return ([int(x) for x in v] if ints else [float(x) for x in v]), None


def _item_error(x: Any, integer: bool) -> str | None:
    if integer and (not isinstance(x, int) or isinstance(x, bool)):
        return "must be an integer"
    if not _is_num(x) or x < 0:
        return "must be a number >= 0"
    return None


def _check_date(key: Key, v: Any) -> tuple[Any, str | None]:
    if isinstance(v, datetime.date) and not isinstance(v, datetime.datetime):
        return v.isoformat(), None
    if isinstance(v, str):
        try:
            return datetime.date.fromisoformat(v).isoformat(), None
        except ValueError:
            pass
    return None, f"must be a date YYYY-MM-DD, got {_show(v)}"


def _check_windows(key: Key, v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, list):
        return None, f"must be a list of [start_hour, end_hour] pairs, got {_show(v)}"
    out = []
    for i, w in enumerate(v):
        if not _is_window(w):
            return None, f"item {i} must be [start_hour, end_hour] with 0 <= start < end, got {_show(w)}"
        out.append([float(w[0]), float(w[1])])
    return out, None


def _is_window(w: Any) -> bool:
    return (isinstance(w, list) and len(w) == 2 and all(_is_num(x) for x in w)
            and 0 <= w[0] < w[1])


def check_distribution(v: Any) -> tuple[Any, str | None]:
    """A distribution table (``{ dist = "lognormal", mean = 2.0, cv = 0.3 }``), checked."""
    if not isinstance(v, dict):
        return None, ("must be a table like { dist = \"lognormal\", mean = 2.0, cv = 0.3 }, "
                      f"got {_show(v)}")
    kind = v.get("dist")
    if kind not in DISTRIBUTION_KINDS:
        return None, f"dist must be one of {', '.join(sorted(DISTRIBUTION_KINDS))}, got {_show(kind)}"
    required, optional = DISTRIBUTION_KINDS[kind]
    fields = set(v) - {"dist"}
    missing = required - fields
    if missing:
        return None, f"{kind} needs {', '.join(sorted(missing))}"
    extra = fields - required - optional
    if extra:
        return None, f"{kind} takes {', '.join(sorted(required | optional))}, not {', '.join(sorted(extra))}"
    return _distribution_fields(kind, v, fields)


def _distribution_fields(kind: str, v: dict, fields: set[str]) -> tuple[Any, str | None]:
    out: dict = {"dist": kind}
    for f in sorted(fields):
        if not _is_num(v[f]) or v[f] < 0:
            return None, f"{f} must be a number >= 0, got {_show(v[f])}"
        out[f] = float(v[f])
    if kind == "uniform" and out["low"] > out["high"]:
        return None, f"uniform needs low <= high, got low={out['low']:g}, high={out['high']:g}"
    if kind == "gamma" and out["cv"] == 0:
        return None, "gamma needs cv > 0 (use deterministic for no variation)"
    return out, None


def _check_text(key: Key, v: Any) -> tuple[Any, str | None]:
    """Free text: a string of at most 500 printable characters (it is shown in reports)."""
    if not isinstance(v, str) or len(v) > 500 or not all(c.isprintable() for c in v):
        return None, f"must be text of at most 500 printable characters, got {_show(v)[:60]}"
    return v, None


def _check_points(key: Key, v: Any) -> tuple[Any, str | None]:
    """Named points: ``{name = { weight = 1.0, terminals = 4 }, ...}`` (fields: POINT_FIELDS)."""
    if not isinstance(v, dict):
        return None, f"must be a table of named points, got {_show(v)}"
    out = {}
    for name, fields in v.items():
        err = _point_name_error(name)
        if err:
            return None, err
        checked, err = check_point(fields)
        if err:
            return None, f"{name}: {err}"
        out[name] = checked
    return out, None


def _point_name_error(name: Any) -> str | None:
    if not (isinstance(name, str) and 0 < len(name) <= 40
            and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)):
        return f"a point name must be 1-40 letters, digits, '_' or '-', got {_show(name)[:60]}"
    return None


def check_point(fields: Any) -> tuple[Any, str | None]:
    """One named point's fields, checked (``weight`` required)."""
    if not isinstance(fields, dict):
        return None, f"must be a table like {{ weight = 1.0 }}, got {_show(fields)}"
    if "weight" not in fields:
        return None, "needs a weight"
    out = {}
    for f, x in fields.items():
        if f not in POINT_FIELDS:
            return None, f"unknown field {_show(f)[:40]} (fields: {', '.join(POINT_FIELDS)})"
        typ, lo, _meaning = POINT_FIELDS[f]
        if typ is int and (not isinstance(x, int) or isinstance(x, bool)):
            return None, f"{f} must be an integer, got {_show(x)}"
        if not _is_num(x) or x < lo:
            return None, f"{f} must be a number >= {lo:g}, got {_show(x)}"
        out[f] = typ(x)
    return out, None


#: The check for each key kind (see :class:`Key`).
_CHECKS = {
    "int": _check_int, "float": _check_float, "bool": _check_bool, "str": _check_str,
    "floats": _check_list, "ints": _check_list, "date": _check_date, "windows": _check_windows,
    "distribution": lambda key, v: check_distribution(v), "text": _check_text,
    "points": _check_points,
}


def _bounds(key: Key, v: float) -> tuple[Any, str | None]:
    if key.min is not None and v < key.min:
        return None, f"must be >= {key.min:g}, got {_show(v)}"
    if key.max is not None and v > key.max:
        return None, f"must be <= {key.max:g}, got {_show(v)}"
    return v, None


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return repr(v)
    if isinstance(v, dict):
        return "a table"
    return repr(v)

"""Loading a scenario: TOML file -> validated configuration, with ``--set`` overrides and ``--scale``.

Every error is a :class:`ScenarioError` whose message names the file (or ``--set``), the key path and
what was expected, e.g. ``scenarios/x.toml: demand.transit.peak_per_hour: must be >= 0, got -5``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardsim.config import schema
from cardsim.config.checks import check_distribution, check_point, check_value
from cardsim.config.metrics import check_metric, parse_threshold, split_threshold
from cardsim.errors import ScenarioError


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the effective configuration and where it came from."""

    name: str
    source: str
    text: str
    config: dict = field(repr=False)
    seed: int
    scale: float = 1.0
    sets: tuple[str, ...] = ()
    scale_capacity: bool = False

    @property
    def scale_warning(self) -> str | None:
        """What a planner must know about a run below scale 1, or None."""
        return scale_warning(self.scale, self.scale_capacity)
    thresholds: tuple[str, ...] = ()     # the command line's --threshold entries

    @property
    def epoch(self) -> int:
        """Unix time of sim_time 0: start_date at 00:00 China Standard Time (UTC+8)."""
        d = dt.date.fromisoformat(self.config["simulation"]["start_date"])
        return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp())

    @property
    def duration_s(self) -> float:
        return self.config["simulation"]["duration_hours"] * 3600.0

    def config_json(self) -> str:
        """The effective configuration, canonical JSON (sorted keys): stored in the log."""
        return json.dumps(self.config, sort_keys=True, separators=(",", ":"))


def scale_warning(scale: float, scale_capacity: bool) -> str | None:
    """The warning a run or sweep below scale 1 gets when its terminals are not scaled too."""
    if scale >= 1.0 or scale_capacity:
        return None
    return (f"--scale {scale:g} scales demand, not terminals: queues and waits are those of a "
            "lighter load than the real system's (use --scale-capacity to scale terminals too)")


def load(path: str | Path, sets: list[str] | tuple[str, ...] = (), scale: float = 1.0,
         seed: int | None = None, thresholds: list[str] | tuple[str, ...] = (),
         scale_capacity: bool = False) -> Scenario:
    """Read, validate and override a scenario file; ``thresholds`` (``"metric<op>number"``, the
    command line's ``--threshold``) are added to its ``[thresholds]``, replacing the same metric's."""
    p = Path(path)
    src = str(path)
    try:
        raw_bytes = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{src}: no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{src}: is a directory, expected a scenario .toml file") from None
    except OSError as e:
        raise ScenarioError(f"{src}: cannot read: {e.strerror}") from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{src}: not UTF-8 text (byte {e.start})") from None
    return loads(text, source=src, name=p.stem, sets=sets, scale=scale, seed=seed,
                 thresholds=thresholds, scale_capacity=scale_capacity)


def loads(text: str, source: str = "<scenario>", name: str = "scenario",
          sets: list[str] | tuple[str, ...] = (), scale: float = 1.0,
          seed: int | None = None, thresholds: list[str] | tuple[str, ...] = (),
          scale_capacity: bool = False) -> Scenario:
    """Validate scenario text. ``source`` names it in error messages. ``scale`` multiplies
    population and demand; with ``scale_capacity`` the terminals too (rounded up, at least 1)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{source}: invalid TOML: {e}") from None
    cfg = schema.defaults()
    _merge(cfg, raw, source, prefix="")
    for item in sets:
        path, value = parse_set(item)
        apply_set(cfg, path, value, source="--set")
    _apply_scale(cfg, scale)
    if scale_capacity:
        _scale_capacity(cfg, scale)
    _apply_seed(cfg, seed)
    where = f"{source} (with --set)" if sets else source
    for path, msg in schema.cross_checks(cfg):
        raise ScenarioError(f"{where}: {path}: {msg}")
    _add_thresholds(cfg, thresholds)
    for metric in cfg["thresholds"]:      # a named point must be one of this scenario's
        err = check_metric(metric, cfg)
        if err:
            raise ScenarioError(f"{where}: thresholds.{metric}: {err}")
    return Scenario(name=name, source=source, text=text, config=cfg,
                    seed=cfg["simulation"]["seed"], scale=float(scale), sets=tuple(sets),
                    thresholds=tuple(thresholds), scale_capacity=bool(scale_capacity))


def _scale_capacity(cfg: dict, scale: float) -> None:
    """Terminals follow demand: every point's terminals times ``scale``, rounded up, at least 1."""
    for prov in cfg["provinces"].values():
        for stype in schema.SERVICE_TYPES:
            sp = prov[stype]
            sp["terminals"] = max(1, math.ceil(sp["terminals"] * scale - 1e-9))
            for point in sp["named"].values():
                if "terminals" in point:
                    point["terminals"] = max(1, math.ceil(point["terminals"] * scale - 1e-9))


def with_thresholds(sc: Scenario, items) -> Scenario:
    """``sc`` with ``--threshold`` entries (``"metric<op>number"``) added to its thresholds."""
    cfg = copy.deepcopy(sc.config)
    _add_thresholds(cfg, items)
    return dataclasses.replace(sc, config=cfg, thresholds=tuple(sc.thresholds) + tuple(items))


def _add_thresholds(cfg: dict, items) -> None:
    """``--threshold metric<op>number`` entries, validated, into ``cfg["thresholds"]``."""
    for item in items:
        parts = split_threshold(item) if isinstance(item, str) else None
        if parts is None:
            raise ScenarioError(f"--threshold {item}: expected METRIC<OP>NUMBER, e.g. "
                                f"'wait.chongqing.scenic_gate.p95<120' (op <, <=, >, >=)")
        _t, err = parse_threshold(parts[0], parts[1], cfg)
        if err:
            raise ScenarioError(f"--threshold {item}: {err}")
        cfg["thresholds"][parts[0]] = parts[1].strip()


def _apply_scale(cfg: dict, scale: float) -> None:
    """Multiply the population and demand keys (``scales`` in the schema) by ``--scale``."""
    if not (isinstance(scale, (int, float)) and scale > 0 and scale < 1e6):
        raise ScenarioError(f"--scale: must be a number > 0, got {scale!r}")
    if scale == 1.0:
        return
    for path in schema.SCALED_PATHS:
        key = schema.KEY_INDEX[path]
        v = schema.get_path(cfg, path) * scale
        schema.set_path(cfg, path, max(1, round(v)) if key.kind == "int" else v)


def _apply_seed(cfg: dict, seed: int | None) -> None:
    if seed is None:
        return
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise ScenarioError(f"--seed: must be an integer from 0 to 2^63-1, got {seed!r}")
    cfg["simulation"]["seed"] = seed


def from_config_json(config_json: str, source: str, name: str = "scenario", text: str = "") -> Scenario:
    """Rebuild a scenario from the effective configuration stored in a log (re-validated)."""
    try:
        cfg = json.loads(config_json)
    except (ValueError, TypeError):
        raise ScenarioError(f"{source}: stored scenario configuration is not valid JSON") from None
    if not isinstance(cfg, dict):
        raise ScenarioError(f"{source}: stored scenario configuration is not a table")
    full = schema.defaults()
    _merge(full, cfg, source, prefix="")
    for path, msg in schema.cross_checks(full):
        raise ScenarioError(f"{source}: {path}: {msg}")
    return Scenario(name=name, source=source, text=text, config=full, seed=full["simulation"]["seed"])


def _merge(cfg: dict, raw: dict, source: str, prefix: str) -> None:
    """Validate ``raw`` key by key against the schema and write it over the defaults in ``cfg``."""
    for k, v in raw.items():
        path = f"{prefix}{k}"
        if path == "thresholds":
            cfg["thresholds"] = _thresholds(v, source)
            continue
        key = schema.KEY_INDEX.get(path)
        if key is not None:
            _set_checked(cfg, key, path, v, f"{source}: {path}")
        elif _is_table_prefix(path):
            if not isinstance(v, dict):
                raise ScenarioError(f"{source}: {path}: must be a table of keys, got {v!r}")
            _merge(cfg, v, source, prefix=path + ".")
        else:
            raise ScenarioError(f"{source}: {path}: unknown key{_suggest(path)}")


def _thresholds(table, source: str) -> dict:
    """Validate a ``[thresholds]`` table: metric name -> "op number" (cardsim.config.metrics)."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{source}: thresholds: must be a table of \"metric\" = \"< number\"")
    out = {}
    for metric, spec in table.items():
        _t, err = parse_threshold(metric, spec)
        if err:
            raise ScenarioError(f"{source}: thresholds.{metric}: {err}")
        out[metric] = spec
    return out


def _is_table_prefix(path: str) -> bool:
    pre = path + "."
    return any(p.startswith(pre) for p in schema.KEY_INDEX)


def _suggest(path: str) -> str:
    close = difflib.get_close_matches(path, schema.KEY_INDEX.keys(), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def parse_set(item: str) -> tuple[str, Any]:
    """``key.path=value``: the value is read as a TOML value, or as a bare string."""
    if "=" not in item:
        raise ScenarioError(f"--set {item}: expected key.path=value")
    path, _, text = item.partition("=")
    path = path.strip()
    text = text.strip()
    if not path:
        raise ScenarioError(f"--set {item}: expected key.path=value")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return path, value


def _set_checked(cfg: dict, key, path: str, value: Any, where: str) -> None:
    """Set ``path`` to ``value`` once it fits ``key``; else a ScenarioError naming ``where``."""
    checked, err = check_value(key, value)
    if err:
        raise ScenarioError(f"{where}: {err}")
    schema.set_path(cfg, path, checked)


def apply_set(cfg: dict, path: str, value: Any, source: str = "--set") -> None:
    """Set one key (or one field of a distribution) in a full configuration, validated."""
    key = schema.KEY_INDEX.get(path)
    if key is not None:
        _set_checked(cfg, key, path, value, f"{source} {path}")
        return
    parent, _, field_name = path.rpartition(".")
    pkey = schema.KEY_INDEX.get(parent)
    if pkey is not None and pkey.kind == "distribution":
        dist = copy.deepcopy(schema.get_path(cfg, parent))
        dist[field_name] = value
        checked, err = check_distribution(dist)
        if err:
            raise ScenarioError(f"{source} {path}: {err}")
        schema.set_path(cfg, parent, checked)
        return
    if _set_point(cfg, path, value, source):
        return
    raise ScenarioError(f"{source} {path}: unknown key{_suggest(path)}")


def _set_point(cfg: dict, path: str, value: Any, source: str) -> bool:
    """``...named.NAME={ weight = 1 }`` (a whole point) or ``...named.NAME.FIELD=value`` (one
    field of a named point); False when ``path`` is neither."""
    parts = path.split(".")
    for cut in (1, 2):
        table = ".".join(parts[:-cut])
        tkey = schema.KEY_INDEX.get(table)
        if tkey is None or tkey.kind != "points":
            continue
        points = copy.deepcopy(schema.get_path(cfg, table))
        name = parts[-cut]
        if cut == 2:
            if name not in points:
                raise ScenarioError(f"{source} {path}: no point named {name!r} in {table}"
                                    f"{' (named: ' + ', '.join(points) + ')' if points else ''}")
            value = {**points[name], parts[-1]: value}
        checked, err = check_point(value)
        if err:
            raise ScenarioError(f"{source} {path}: {err}")
        points[name] = checked
        _set_checked(cfg, tkey, table, points, f"{source} {path}")
        return True
    return False

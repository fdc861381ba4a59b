"""Every number of every shipped scenario has a source or a labelled assumption (docs/sources.md)."""

import re
from fnmatch import fnmatchcase

import pytest

from cardsim.config import schema
from cardsim.config.scenario import load

from conftest import ROOT

LABELS = ("Source", "Derived", "Assumption", "Setting")
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def rows() -> list[tuple[list[str], str]]:
    """(key patterns, the where-it-comes-from cell) of every table row of docs/sources.md."""
    out = []
    for line in (ROOT / "docs" / "sources.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            out.append((re.findall(r"`([^`]+)`", cells[0]), cells[2]))
    return out


def keys_of(path) -> list[str]:
    """Every concrete key of a scenario's effective configuration, named points' fields too."""
    cfg = load(path).config
    out = []
    for key_path, key in schema.KEY_INDEX.items():
        out.append(key_path)
        if key.kind == "points":
            for name, fields in schema.get_path(cfg, key_path).items():
                out += [f"{key_path}.{name}.{f}" for f in fields]
    return out


def test_every_row_is_labelled():
    assert rows()
    for patterns, where in rows():
        assert any(where.startswith(label) or f" {label}" in where or f"({label}" in where
                   for label in LABELS), f"{patterns}: no Source/Derived/Assumption/Setting label"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_key_of_a_shipped_scenario_has_a_row(path):
    patterns = [p for ps, _w in rows() for p in ps]
    missing = [k for k in keys_of(path) if not any(fnmatchcase(k, p) for p in patterns)]
    assert not missing, f"{path.name}: no row in docs/sources.md for {missing[:10]}"


def test_no_row_is_stale():
    keys = {k for path in SCENARIOS for k in keys_of(path)}
    for patterns, _where in rows():
        for p in patterns:
            assert any(fnmatchcase(k, p) for k in keys), f"docs/sources.md: {p} matches no key"


def test_a_new_unsourced_key_would_fail(monkeypatch):
    """The check is real: a key no row covers is reported."""
    monkeypatch.setattr(schema, "KEY_INDEX", {**schema.KEY_INDEX, "demand.transit.new_figure":
                                              schema.KEY_INDEX["demand.transit.transfer_share"]})
    patterns = [p for ps, _w in rows() for p in ps]
    assert not any(fnmatchcase("demand.transit.new_figure", p) for p in patterns)

"""The layer rule, checked: a module imports only its own layer and the layers below it.

The table below is the map in ``cardsim/__init__.py`` (docs/architecture.md explains it), lowest
first. Every import under ``cardsim/`` counts, at any depth (function-local ones too) and in any
form (``import cardsim.x``, ``from cardsim.x import y``, ``from cardsim import x``). Two more rules:
only ``cardsim.api`` imports ``cardsim.attacks`` (the CLI reaches attacks through the API), and no
module is left out of the table.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from cardsim.workers import PRELOAD

PACKAGE = Path(__file__).resolve().parent.parent / "cardsim"

#: Top-level module or subpackage of ``cardsim`` -> its layer rank (lowest first). Equal ranks
#: may import each other (``report`` reads sweep results from ``planning``).
LAYERS: dict[str, int] = {
    "domain": 0, "errors": 0, "files": 0, "workers": 0, "merkle": 0,
    "config": 1,
    "records": 2,
    "model": 3,
    "signing": 4,
    "log": 5,
    "audit": 6,
    "attacks": 7,
    "planning": 8, "reports": 8,
    "net": 8,
    "api": 9, "": 9,       # "" is the package itself: its __init__ re-exports the API
    "cli": 10, "__main__": 10,
}

#: The only modules allowed to import ``cardsim.attacks`` (besides ``cardsim.attacks`` itself).
ATTACKS_IMPORTERS = {"cardsim.api"}



def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``cardsim/model/card.py`` -> ``cardsim.model.card``; a package's ``__init__`` -> the package."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imported_modules(path: Path, package: Path = PACKAGE) -> list[str]:
    """Every ``cardsim`` module that ``path`` imports, anywhere in the file."""
    importer = module_name(path, package)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = _resolve_relative(importer, path.name == "__init__.py", node.level, node.module)
            # ``from cardsim import x`` imports the submodule x when there is one
            if module == "cardsim":
                found += [f"cardsim.{a.name}" if a.name in LAYERS else "cardsim" for a in node.names]
            else:
                found.append(module)
    return [m for m in found if m == "cardsim" or m.startswith("cardsim.")]


def layer_key(module: str) -> str:
    """The table key of a ``cardsim`` module: its first component below the package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rank(module: str) -> int:
    key = layer_key(module)
    if key not in LAYERS:
        raise AssertionError(f"{module}: not in the layer table of tests/test_layers.py")
    return LAYERS[key]


def is_violation(importer: str, imported: str) -> bool:
    """True when ``importer`` may not import ``imported`` under the layer rule."""
    if rank(imported) > rank(importer):
        return True
    return (layer_key(imported) == "attacks" and layer_key(importer) != "attacks"
            and importer not in ATTACKS_IMPORTERS)


def all_imports() -> list[tuple[str, str]]:
    return [(module_name(p), m) for p in sorted(PACKAGE.rglob("*.py")) for m in imported_modules(p)]


def violations() -> set[tuple[str, str]]:
    return {(a, b) for a, b in all_imports() if is_violation(a, b)}


def test_every_module_has_a_layer():
    missing = sorted({module_name(p) for p in PACKAGE.rglob("*.py")
                      if layer_key(module_name(p)) not in LAYERS})
    assert not missing, f"add these to LAYERS (and to the map in cardsim/__init__.py): {missing}"


def test_no_upward_imports_and_attacks_only_from_api():
    new = sorted(violations())
    assert not new, "imports against the layer rule (see docs/architecture.md):\n" + "\n".join(
        f"  {a} imports {b}" for a, b in new)


@pytest.mark.parametrize("importer, imported, bad", [
    ("cardsim.model.card", "cardsim.signing.keys", True),      # model below signing
    ("cardsim.model.card", "cardsim.log.store", True),
    ("cardsim.model.card", "cardsim.audit.verify", True),
    ("cardsim.records.record", "cardsim.model.card", True),    # records below model
    ("cardsim.config.schema", "cardsim.records.record", True),
    ("cardsim.planning.sweep", "cardsim.attacks.injection", True),   # attacks: api only
    ("cardsim.cli.app", "cardsim.attacks", True),
    ("cardsim.api", "cardsim.attacks.injection", False),
    ("cardsim.attacks.injection", "cardsim.signing.keys", False),
    ("cardsim.signing.signer", "cardsim.model.card", False),   # downward is fine
    ("cardsim.reports.html", "cardsim.planning.sweep", False),  # same rank
    ("cardsim.config.metrics", "cardsim.config.schema", False),
    ("cardsim.cli.app", "cardsim.api", False),
    ("cardsim.domain", "cardsim", True),                    # the package is the API facade
])
def test_the_rule_itself(importer, imported, bad):
    assert is_violation(importer, imported) is bad


def test_imports_are_found_at_any_depth_and_in_every_form(tmp_path):
    pkg = tmp_path / "cardsim" / "model"
    pkg.mkdir(parents=True)
    src = pkg / "x.py"
    src.write_text("import cardsim.signing.keys\n"
                   "from cardsim import log, PROVINCES\n"
                   "def f():\n"
                   "    from cardsim.audit.verify import verify\n"
                   "    from ..records import record\n"
                   "    import json\n")
    assert imported_modules(src, tmp_path / "cardsim") == ["cardsim.signing.keys", "cardsim.log", "cardsim",
                                     "cardsim.audit.verify", "cardsim.records"]


def test_package_map_lists_the_layers_in_order():
    """The module map in cardsim/__init__.py names the same layers, in the same order.

    Each item of the map starts with its names (``- ``a``, ``b``  text; ``c``  text``).
    """
    doc = importlib.import_module("cardsim").__doc__
    named = [n for line in doc.splitlines() if line.startswith("- ")
             for n in re.findall(r"(?:^- |, |; )``(\w+)``", line)]
    assert set(named) == set(LAYERS) - {"", "__main__"}
    assert [LAYERS[n] for n in named] == sorted(LAYERS[n] for n in named)


@pytest.mark.parametrize("module", PRELOAD)
def test_preloaded_module_paths_import(module):
    """The forkserver ignores a preload that fails to import: check each path here."""
    assert importlib.import_module(module).__name__ == module

"""cardsim: a discrete-event simulator of social-security one-card transactions.

The subpackages are the stages of a run, lowest first; a package imports only those above it in
this list (``tests/test_layers.py`` checks it):

- ``domain``, ``errors``, ``files``, ``workers``, ``merkle``  names, user errors, safe file
                reads and writes, the worker pool every stage shares, RFC 9162 Merkle trees
- ``config``    scenario schema, loading and overrides, metric names and thresholds
- ``records``   the transaction record (columns, codes) and the canonical byte encoding
- ``model``     the SimPy model: cards, fares, demand, service points, the nodes (issuer,
                merchant, hub) and their decision rules, statistics and the run summary
- ``signing``   algorithms, keys, the card register, record and upload signers
- ``log``       the SQLite log, the hash chain and the simulation -> signing -> writer pipeline
- ``audit``     verify, replay and the trace-driven what-if (retime)
- ``attacks``   attack injection with ground truth (plugged in by ``api``; nothing else imports it)
- ``planning``  sweeps; ``reports``  HTML and text reports
- ``net``       live nodes: the issuer and hub as ISO 8583 network services, replay and
                conformance checks against a node under test
- ``api``       the Python API; ``cli``  the command line, a thin layer over ``api``

The Python API (``cardsim.api``, a worked example in docs/api.md) is exported from here:

    import cardsim
    result = cardsim.run(cardsim.load_scenario("scenarios/weekday.toml"), "w.db", keys_dir="keys")

Its functions load on first use (a module ``__getattr__``), measured to matter: importing
``cardsim.api`` (numpy, SimPy, cryptography, sqlite-utils and every stage) took 0.45-0.85 s against
about 5 ms for this package alone, which every worker process imports; and the CLI, calling the API
through this package, imports in 0.2 s instead of 0.6 s for ``cardsim --help``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cardsim.domain import CHANNELS, PROVINCES, __version__
from cardsim.errors import CardsimError

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use
    from cardsim.api import (RunResult, SweepResult, VerifyResult, init_keys, load_scenario,
                             open_log, replay, report, retime, run, scale_warning, sweep,
                             verify, ProofCheck, check_proof, prove_consistency, prove_inclusion,
                             witness, WitnessResult, run_days, verify_series)

#: The names ``__getattr__`` loads from :mod:`cardsim.api` on first use.
_API = ("load_scenario", "run", "verify", "replay", "retime", "sweep", "report", "open_log",
        "init_keys", "RunResult", "VerifyResult", "SweepResult", "scale_warning", "serve",
        "replay_live", "conform", "ProofCheck", "prove_inclusion", "prove_consistency",
        "check_proof", "witness", "WitnessResult", "run_days", "verify_series")

__all__ = ["CHANNELS", "PROVINCES", "__version__", "CardsimError", *_API]

def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module("cardsim.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cardsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

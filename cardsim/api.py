"""The Python API behind the CLI. Each function does the real work of one command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from cardsim.attacks.injection import attack_signature, attacker_for, compare, record_ground_truth
from cardsim.signing import keys as keymod
from cardsim.model.simulation import Simulation
from cardsim.log.pipeline import LogSink
from cardsim.config.scenario import Scenario
from cardsim.signing.signer import SignSpec


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def ensure_keys(keys_dir: str | Path, passphrase_env: str | None = None,
                notify: Callable[[str], None] | None = None) -> bool:
    """Create the key hierarchy when ``keys_dir`` holds none; True when it did."""
    d = Path(keys_dir)
    if d.is_dir() and keymod.keys_present(d):
        return False
    keymod.init_keys(d, passphrase=keymod.passphrase_from_env(passphrase_env))
    if notify:
        notify(f"created keys in {d}/ (first use; see `cardsim keys init --help`)")
    return True


def run(scenario: Scenario, out: str | Path | None = None, force: bool = False,
        progress: Callable[[float], None] | None = None, sign: bool = True,
        keys_dir: str | Path = "keys", passphrase_env: str | None = None,
        workers: int | None = None, notify: Callable[[str], None] | None = None) -> dict:
    """Simulate ``scenario``; write the log to ``out`` (if given); return the summary.

    With ``sign`` (the default) every record is signed by its card (and issuer, online), chained and
    checkpointed, using ``workers`` signing processes (default: all cores). The log's
    ``runs.completed`` becomes 1 only when the run ends normally.
    """
    sink = None
    if out is not None:
        spec = None
        if sign:
            ensure_keys(keys_dir, passphrase_env, notify)
            spec = SignSpec(str(keys_dir), keymod.passphrase_from_env(passphrase_env),
                            {p: pop_key for p, pop_key in _population_keys(scenario).items()},
                            scenario.epoch, attack_signature)
        sink = LogSink(out, scenario, force=force, spec=spec,
                       workers=workers if workers else default_workers())
    sim = Simulation(scenario, sink=sink, progress=progress)
    attacker = attacker_for(sim)
    try:
        summary = sim.run(attacker=attacker)
        if sink is not None:
            sink.finish(summary, sim.wall_seconds, sim.lost, sim.duration, sim.metrics())
            sink = None
            record_ground_truth(out, scenario.config["attacks"], attacker,
                                sim.streams.rng("attacks/post-run"))
        return summary
    finally:
        if sink is not None:
            sink.abort()


def ground_truth(path: str | Path, report) -> dict:
    """How a verification ``report`` of the log at ``path`` fares against the attacks the run
    injected (its ``ground_truth`` table): detection per attack kind and false positives."""
    return compare(path, report)


def _population_keys(scenario: Scenario) -> dict:
    from cardsim.domain import PROVINCES
    from cardsim.model.streams import Streams
    streams = Streams(scenario.seed)
    return {p: streams.key(f"cards/{p}") for p in PROVINCES}


def init_keys(directory: str | Path, algorithm: str = "ed25519", passphrase_env: str | None = None,
              force: bool = False) -> list[Path]:
    return keymod.init_keys(directory, algorithm, keymod.passphrase_from_env(passphrase_env), force)

"""The Python API behind the CLI. Each function does the real work of one command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from cardsim.signing import keys as keymod
from cardsim.model.card import population_keys
from cardsim.log.session import simulate
from cardsim.model.simulation import Simulation
from cardsim.config.scenario import Scenario


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
    summary, sim = simulate(scenario, out=out, force=force, keys_dir=keys_dir,
                            passphrase=keymod.passphrase_from_env(passphrase_env),
                            workers=workers or default_workers(), progress=progress, sign=sign,
                            notify=notify)
    if out is not None:
        _inject_post_run(scenario, sim, out)
    return summary


def _inject_post_run(scenario: Scenario, sim: Simulation, out) -> None:
    """Record in-run attacks and apply post-run ones (scenario [attacks]); see cardsim.attacks.injection."""
    from cardsim.attacks.injection import tamper_log, write_ground_truth
    acfg = scenario.config["attacks"]
    truth = list(sim.attacker.truth) if sim.attacker else []
    if any(acfg[k] for k in ("tampered_records", "deleted_records", "reordered_records",
                             "truncated_records")):
        truth += tamper_log(out, acfg, sim.streams.rng("attacks/post-run"), {t[1] for t in truth})
    if truth or any(acfg.values()):
        write_ground_truth(out, truth)


def _population_keys(scenario: Scenario) -> dict:
    return population_keys(scenario.seed)


def init_keys(directory: str | Path, algorithm: str = "ed25519", passphrase_env: str | None = None,
              force: bool = False) -> list[Path]:
    return keymod.init_keys(directory, algorithm, keymod.passphrase_from_env(passphrase_env), force)

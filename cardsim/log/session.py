"""One simulation run and the life of its log: keys, the signing pipeline, finish or abort.

``cardsim.api.run`` (the scenario's demand) and ``cardsim.audit.retime`` (a log's arrivals) both
run through :func:`simulate`, so a log is written, completed or abandoned one way only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cardsim.config.scenario import Scenario
from cardsim.log.days import CarriedState, card_state_rows, seed_simulation
from cardsim.log.pipeline import LogSink
from cardsim.log.store import check_new
from cardsim.model.card import population_keys
from cardsim.model.demand import DemandSource
from cardsim.model.simulation import Simulation
from cardsim.signing import keys as keymod
from cardsim.signing.signer import SignSpec


@dataclass(frozen=True)
class Hooks:
    """What a layer above plugs into a run (the API plugs in ``cardsim.attacks``; this layer and
    the model know none of it): ``attack_signer`` for :class:`SignSpec`, ``attacker(sim)`` the
    in-run attacker (or None) passed to :meth:`Simulation.run`, and ``finished(out, scenario, sim,
    attacker)`` called once the log is complete."""

    attack_signer: Any = None
    attacker: Callable[[Simulation], Any] | None = None
    finished: Callable[[Path, Scenario, Simulation, Any], None] | None = None


NO_HOOKS = Hooks()


def ensure_keys(keys_dir: str | Path, passphrase: bytes | None = None,
                notify: Callable[[str], None] | None = None) -> bool:
    """Create the key hierarchy in ``keys_dir`` when it holds none (encrypted with
    ``passphrase`` when given); True when it did."""
    d = Path(keys_dir)
    if d.is_dir() and keymod.keys_present(d):
        return False
    keymod.init_keys(d, passphrase=passphrase)
    if notify:
        notify(f"created keys in {d}/ (first use; see `cardsim keys init --help`)")
    return True


def simulate(scenario: Scenario, demand: DemandSource | None = None,
             out: str | Path | None = None, force: bool = False, keys_dir: str | Path = "keys",
             passphrase: bytes | None = None, workers: int = 1,
             progress: Callable[[float], None] | None = None, sign: bool = True,
             notify: Callable[[str], None] | None = None,
             hooks: Hooks = NO_HOOKS,
             carried: CarriedState | None = None) -> tuple[dict, Simulation]:
    """Run ``scenario`` with arrivals from ``demand`` (default: the scenario's own); returns the
    summary and the finished simulation.

    With ``out`` the records go to a new log there (refusing to replace a file without
    ``force``); with ``sign`` they are signed by ``workers`` processes with the keys in
    ``keys_dir`` (created on first use). The log's ``runs.completed`` becomes 1 only when the run
    ends normally; on any error the log is abandoned and the workers are stopped. ``carried``:
    the run follows a log (``log.days``): it starts from that log's final state, and its log
    commits to that log's final signed tree head.
    """
    sink = None
    if out is not None:
        spec = None
        check_new(out, force)        # a refused log path creates no keys
        if sign:
            ensure_keys(keys_dir, passphrase, notify)
            population = carried.population_seed if carried else scenario.seed
            spec = SignSpec(str(keys_dir), passphrase, population_keys(population), scenario.epoch,
                            hooks.attack_signer)
        sink = LogSink(out, scenario, force=force, spec=spec, workers=workers, carried=carried)
    try:
        sim = Simulation(scenario, sink=sink, progress=progress, demand=demand)
        if carried is not None:
            seed_simulation(sim, carried)
        attacker = hooks.attacker(sim) if hooks.attacker else None
        summary = sim.run(attacker=attacker)
        if sink is not None:
            sink.finish(summary, sim.wall_seconds, sim.lost, sim.duration, sim.metrics(),
                        card_state_rows(sim))
            sink = None
            if hooks.finished:
                hooks.finished(Path(out), scenario, sim, attacker)
        return summary, sim
    finally:
        if sink is not None:
            sink.abort()

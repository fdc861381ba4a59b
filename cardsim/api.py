"""The Python API: everything the command line does, for scripts and notebooks.

``import cardsim`` gives these functions (see ``cardsim/__init__.py``); ``docs/api.md`` is a worked
example. The CLI (``cardsim.cli.app``) is a thin layer over them: every check of the user's input
(scenario keys, replay filters, ``--set`` keys that would have no effect, thresholds) is made here,
so a notebook gets the same checks and the same one-line :class:`CardsimError` messages.

Nothing here writes private keys unless asked: a signed log needs an explicit ``keys_dir`` (keys
are created there on first use) or ``create_keys=True`` (``keys/`` in the current directory).
Passphrases are ``bytes``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Callable, Sequence

from cardsim.attacks.injection import attack_signature, attacker_for, compare, record_ground_truth
from cardsim.audit import replay as replay_mod
from cardsim.audit import retime as retime_mod
from cardsim.audit import proofs as proofcheck_mod
from cardsim.audit import verify as verify_mod
from cardsim.audit import series as series_mod
from cardsim.audit import witness as witness_mod
from cardsim.audit.series import SeriesReport
from cardsim.audit.proofs import ProofCheck
from cardsim.audit.witness import WitnessResult
from cardsim.audit.replay import NODES, Filters, ReplayResult
from cardsim.audit.verify import Report
from cardsim.config.metrics import evaluate, thresholds_of
from cardsim.config.effects import NO_EFFECT
from cardsim.config.scenario import Scenario, load, parse_set, scale_warning, with_thresholds
from cardsim.domain import CHANNELS, PROVINCES
from cardsim.errors import CardsimError
from cardsim.log import days as days_mod
from cardsim.log import proofs as proofs_mod
from cardsim.log.session import Hooks, ensure_keys, simulate
from cardsim.log.store import Log
from cardsim.model.simulation import Simulation
from cardsim.model.card import population_keys
from cardsim.planning import sweep as sweep_mod
from cardsim.reports.html import write_report
from cardsim.signing import keys as keymod

__all__ = ["RunResult", "VerifyResult", "SweepResult", "load_scenario", "run", "verify", "replay",
           "retime", "sweep", "report", "open_log", "init_keys", "CardsimError", "scale_warning",
           "serve", "replay_live", "conform", "ProofCheck", "prove_inclusion", "prove_consistency",
           "check_proof", "witness", "WitnessResult", "run_days", "verify_series", "SeriesReport"]

#: ``progress(done, total)``: simulated seconds for run and retime, records for verify and
#: replay, runs for sweep.
Progress = Callable[[float, float], None]

@dataclass(frozen=True)
class RunResult:
    """What :func:`run` and :func:`retime` return.

    ``summary`` is the run summary (docs/summary.md); ``thresholds`` the scenario's
    ``[thresholds]`` evaluated against it, each ``{metric, op, limit, value, passed}``; ``log``
    the log written, or None.
    """

    summary: dict
    thresholds: tuple[dict, ...]
    log: Path | None

    @property
    def passed(self) -> bool:
        """True when every threshold holds (the CLI exits 1 otherwise)."""
        return all(c["passed"] for c in self.thresholds)

    def as_dict(self) -> dict:
        """The summary with its evaluated thresholds: the object ``cardsim run --json`` prints."""
        return {**self.summary, "thresholds": list(self.thresholds)}


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` returns: the verifier's report and, when asked for, how its findings
    compare with the attacks the run injected (``ground_truth``, else None)."""

    report: Report
    ground_truth: dict | None = None

    @property
    def ok(self) -> bool:
        """Every check holds (and, with ground truth, every injected attack was detected)."""
        gt = self.ground_truth
        return self.report.ok and (gt is None or gt["all_detected"])

    def as_dict(self) -> dict:
        """The object ``cardsim verify --json`` prints."""
        out = self.report.as_dict()
        if self.ground_truth is not None:
            out["ground_truth"] = self.ground_truth
        return out


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns: ``summary`` is the object ``cardsim sweep --json`` prints
    (``combinations``, each with its metrics' means and 95% intervals and its thresholds)."""

    summary: dict
    csv: Path | None = None

    @property
    def passed(self) -> bool:
        """True when every threshold of every combination holds on its confidence bound."""
        combos = self.summary["combinations"]
        return all(c["passed"] for combo in combos for c in combo["thresholds"])


# --- scenarios, keys ----------------------------------------------------------------------------

def load_scenario(path: str | Path, sets: Sequence[str] = (), scale: float = 1.0,
                  seed: int | None = None, thresholds: Sequence[str] = (),
                  scale_capacity: bool = False) -> Scenario:
    """Read and validate a scenario file; ``sets`` are ``"key.path=value"`` overrides, ``scale``
    multiplies population and demand (and, with ``scale_capacity``, the terminals), ``seed``
    replaces ``simulation.seed``; ``thresholds`` (``"wait.chongqing.scenic_gate.p95<120"``) join
    the scenario's ``[thresholds]``. Below scale 1 without ``scale_capacity``, the scenario's
    ``scale_warning`` says that waits are not the full system's."""
    return load(path, sets=tuple(sets), scale=scale, seed=seed, thresholds=tuple(thresholds),
                scale_capacity=scale_capacity)


def init_keys(directory: str | Path, algorithm: str = "ed25519", passphrase: bytes | None = None,
              force: bool = False) -> list[Path]:
    """Create the root CA, the issuer CAs, the merchants' and the hub's keys in ``directory``
    (private keys encrypted with ``passphrase`` when given); returns the files written."""
    return keymod.init_keys(directory, algorithm, passphrase, force)


def default_workers() -> int:
    """Worker processes when none are asked for: one per core."""
    return max(1, os.cpu_count() or 1)


def _keys_dir(keys_dir: str | Path | None, create_keys: bool) -> Path:
    if keys_dir is not None:
        return Path(keys_dir)
    if not create_keys:
        raise CardsimError("keys_dir: a signed log needs keys: pass keys_dir=DIR (created there "
                           "on first use), create_keys=True (keys/ in the current directory) "
                           "or sign=False")
    return Path("keys")


def _per_step(progress: Progress | None, total: float) -> Callable[[float], None] | None:
    """Adapt ``progress(done, total)`` to the one-argument callback the stages call."""
    return None if progress is None else (lambda done: progress(done, total))


def _records(log: str | Path) -> int:
    """The log's record count, for a progress total."""
    with Log.open(log) as lg:
        return lg.last_seq()


def _as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load(scenario)


def _checked(summary: dict, scenario: Scenario, out: str | Path | None) -> RunResult:
    checks = tuple(evaluate(summary, thresholds_of(scenario.config)))
    return RunResult(summary, checks, Path(out) if out is not None else None)


# --- run ------------------------------------------------------------------------------------------

def run(scenario: Scenario | str | Path, out: str | Path | None = None, *, force: bool = False,
        sign: bool = True, keys_dir: str | Path | None = None, create_keys: bool = False,
        passphrase: bytes | None = None, workers: int | None = None,
        progress: Progress | None = None,
        notify: Callable[[str], None] | None = None,
        after: str | Path | None = None) -> RunResult:
    """Simulate ``scenario`` (a :class:`Scenario` or a file); write the log to ``out`` if given.

    With ``sign`` (the default) every record is signed by its card (and issuer, online), chained and
    checkpointed by ``workers`` signing processes (default: all cores), with the keys in
    ``keys_dir``. ``force`` replaces an existing ``out``. ``progress(done, total)`` follows the
    simulated seconds; ``notify(message)`` hears about keys created on first use. The log's
    ``runs.completed`` becomes 1 only when the run ends normally. ``after``: a complete signed log
    this run follows (the next day): its cards' counters, balances and quotas and its loss reports
    carry over, and the new log commits to its final signed tree head.
    """
    sc = _as_scenario(scenario)
    keys = _keys_dir(keys_dir, create_keys) if out is not None and sign else None
    carried = None
    if after is not None:
        if out is None or not sign:
            raise CardsimError("--after: only a signed log (--out, without --no-sign) can follow "
                               "another")
        carried = days_mod.carried_state(after, sc)
    summary, _ = simulate(sc, out=out, force=force, keys_dir=keys or "keys", passphrase=passphrase,
                          workers=workers or default_workers(),
                          progress=_per_step(progress, sc.duration_s), sign=sign, notify=notify,
                          hooks=ATTACKS, carried=carried)
    return _checked(summary, sc, out)


def run_days(scenario: Scenario | str | Path, days: int, out_dir: str | Path, *,
             weekend: Scenario | str | Path | None = None, after: str | Path | None = None,
             force: bool = False, keys_dir: str | Path | None = None, create_keys: bool = False,
             passphrase: bytes | None = None, workers: int | None = None,
             progress: Progress | None = None,
             notify: Callable[[str], None] | None = None) -> list[RunResult]:
    """A linked series of ``days`` daily logs in ``out_dir`` (``day1.db``, ``day2.db``, ...): day
    i runs ``scenario`` (``weekend`` on Saturdays and Sundays, when given) on its start date plus
    i - 1 days with its seed plus i - 1, and follows day i - 1 (day 1 follows ``after``)."""
    if not isinstance(days, int) or not 1 <= days <= 366:
        raise CardsimError(f"--days: must be 1 to 366, got {days!r}")
    d = Path(out_dir)
    if not d.is_dir():
        raise CardsimError(f"--out-dir {d}: no such directory")
    base = [_as_scenario(scenario), _as_scenario(weekend) if weekend is not None else None]
    out, previous = [], after
    for i in range(days):
        sc = days_mod.day_scenario(base[0], base[1], i)
        path = d / f"day{i + 1}.db"
        out.append(run(sc, path, force=force, keys_dir=keys_dir, create_keys=create_keys,
                       passphrase=passphrase, workers=workers, progress=progress, notify=notify,
                       after=previous))
        previous = path
    return out


def _record_attacks(out: Path, scenario: Scenario, sim: Simulation, attacker) -> None:
    """After a log is complete: its in-run attacks' ground truth, and the post-run ones applied."""
    record_ground_truth(out, scenario.config["attacks"], attacker, sim.streams.rng("attacks/post-run"))


#: The scenario's ``[attacks]``, plugged into every run (each hook does nothing when none is set).
ATTACKS = Hooks(attack_signature, attacker_for, _record_attacks)




# --- verify, replay, retime -----------------------------------------------------------------------

def verify(log: str | Path, keys_dir: str | Path = "keys", *, workers: int | None = None,
           ground_truth: bool = False, progress: Progress | None = None,
           witnesses: Sequence[str | Path] = ()) -> VerifyResult:
    """Verify a log (certificates, signatures, ATCs, chain, signed tree heads, uploads), trusting
    only ``keys_dir``/root-ca.pem. ``ground_truth`` also compares the findings with the attacks the
    run injected. ``witnesses``: witness state files whose countersigned heads of this log it must
    hold. ``progress(done, total)`` counts the records checked."""
    step = _per_step(progress, _records(log)) if progress else None
    report_ = verify_mod.verify(log, keys_dir, workers=workers or default_workers(), progress=step,
                                witnesses=tuple(witnesses))
    return VerifyResult(report_, compare(log, report_) if ground_truth else None)


def verify_series(logs: Sequence[str | Path], keys_dir: str | Path = "keys", *,
                  workers: int | None = None, witnesses: Sequence[str | Path] = ()) -> SeriesReport:
    """Verify a series of daily logs, oldest first: each one as :func:`verify` does, then each
    against the day before (it follows that log's final signed tree head, the same cards, every
    card's counter rising across days). ``.ok``; ``.as_dict()`` is ``verify --json``'s object."""
    if len(logs) < 2:
        raise CardsimError("verify_series: give two or more logs, oldest first")
    return series_mod.verify_series(list(logs), keys_dir, workers or default_workers(),
                                    witnesses=tuple(witnesses))


def check_sets(sets: Sequence[str], mode: str) -> None:
    """Refuse a ``--set`` key that cannot change the result of ``mode`` (see :data:`NO_EFFECT`)."""
    for item in sets:
        key = parse_set(item)[0]
        for pattern, why in NO_EFFECT[mode]:
            if fnmatchcase(key, pattern) or fnmatchcase(key, pattern + ".*"):
                raise CardsimError(f"--set {key}: has no effect in {mode} ({why})")


def _rules(log: str | Path, scenario: Scenario | str | Path | None, sets: Sequence[str],
           mode: str) -> Scenario | None:
    """The scenario whose rules a replay or retime applies: ``scenario`` or the log's own, with
    ``sets`` applied; None for the log's own unchanged."""
    if isinstance(scenario, Scenario):
        if sets:
            raise CardsimError("sets: apply them when loading the scenario "
                               "(load_scenario(path, sets=...)) or pass the scenario's path")
        return scenario
    if scenario is not None:
        rules = load(scenario, sets=tuple(sets))
    else:
        rules = replay_mod.log_scenario(log, tuple(sets)) if sets else None
    check_sets(sets, mode)          # after loading: an unknown key is reported as unknown
    return rules


def _filters(channel: str | None, province: str | None, time_from: float | None,
             time_to: float | None, card: str | None, limit: int | None) -> Filters:
    if channel is not None and channel not in CHANNELS:
        raise CardsimError(f"--channel: must be one of {', '.join(CHANNELS)}, got {channel!r}")
    if province is not None and province not in PROVINCES:
        raise CardsimError(f"--province: must be one of {', '.join(PROVINCES)}, got {province!r}")
    if time_from is not None and time_to is not None and time_from >= time_to:
        raise CardsimError(f"--from {time_from:g}: must be before --to {time_to:g}")
    if limit is not None and limit < 0:
        raise CardsimError(f"--limit: must be >= 0, got {limit}")
    return Filters(channel, province, time_from, time_to, card, limit)


def _nodes(against: str | Sequence[str]) -> tuple[str, ...]:
    items = against.split(",") if isinstance(against, str) else against
    return tuple(a.strip() for a in items if a.strip())


def replay(log: str | Path, scenario: Scenario | str | Path | None = None, *,
           sets: Sequence[str] = (), against: str | Sequence[str] = NODES,
           keys_dir: str | Path = "keys", check_signatures: bool = True,
           channel: str | None = None, province: str | None = None,
           time_from: float | None = None, time_to: float | None = None, card: str | None = None,
           limit: int | None = None, speed: float | None = None,
           diff_out: str | Path | None = None, workers: int | None = None,
           progress: Progress | None = None, force: bool = False,
           notify: Callable[[str], None] | None = None) -> ReplayResult:
    """Replay a log against fresh merchant and issuer nodes and report what diverges.

    The rules are ``scenario``'s (a :class:`Scenario` or a file) or the log's own, with ``sets``
    (``"key.path=value"``) applied; a key that cannot change a replayed decision is an error.
    ``against`` names the nodes that re-decide (``"merchant,issuer"`` or a subset). The filters
    (``channel``, terminal ``province``, simulated ``time_from`` <= t < ``time_to``, ``card``,
    ``limit``) choose the records replayed; the others are taken as recorded. ``speed`` paces the
    replay on the wall clock (``notify(message)`` hears how long, when over a minute);
    ``diff_out`` writes every divergence to a CSV file (an existing one is replaced only with
    ``force``). The result's ``revenue_change_yuan`` is what the replayed decisions charge minus
    what was recorded, per province and channel; with ``card``, ``card_story`` lists each of the
    card's records with its recorded and replayed decision.
    """
    filters = _filters(channel, province, time_from, time_to, card, limit)
    rules = _rules(log, scenario, sets, "replay")
    step = _per_step(progress, _records(log)) if progress else None
    return replay_mod.replay(log, rules, _nodes(against), keys_dir=keys_dir,
                             workers=workers or default_workers(), filters=filters,
                             check_signatures=check_signatures, speed=speed, diff_out=diff_out,
                             progress=step, force=force, notify=notify)


def retime(log: str | Path, scenario: Scenario | str | Path | None = None, *,
           sets: Sequence[str] = (), out: str | Path | None = None, force: bool = False,
           keys_dir: str | Path | None = None, create_keys: bool = False,
           passphrase: bytes | None = None, workers: int | None = None,
           progress: Progress | None = None,
           notify: Callable[[str], None] | None = None,
           thresholds: Sequence[str] = ()) -> RunResult:
    """Trace-driven what-if: run the log's arrivals through the simulation clock under
    ``scenario``'s capacities and rules (or the log's own, with ``sets`` applied).

    Returns a :class:`RunResult` like :func:`run`, its thresholds those of the scenario applied
    and ``thresholds`` (``"metric<op>number"``).
    ``out`` writes the new run's signed log, with the keys in ``keys_dir`` as for :func:`run`.
    """
    with Log.open(log) as lg:
        log_sc = lg.scenario
    rules = _rules(log, scenario, sets, "retime")
    if thresholds:
        rules = with_thresholds(rules or log_sc, thresholds)
    keys = None
    if out is not None:
        keys = _keys_dir(keys_dir, create_keys)
        ensure_keys(keys, passphrase, notify)
    summary = retime_mod.retime(log, rules, out=out, force=force, keys_dir=keys or "keys",
                                passphrase=passphrase, workers=workers or default_workers(),
                                progress=_per_step(progress, log_sc.duration_s))
    return _checked(summary, rules or log_sc, out)


# --- sweep, report, logs -------------------------------------------------------------------------

def sweep(scenario: str | Path, replications: int, sets: Sequence[str] = (), *, scale: float = 1.0,
          seed: int | None = None, workers: int | None = None, scheduler: str | None = None,
          csv: str | Path | None = None, progress: Progress | None = None,
          thresholds: Sequence[str] = (), metrics: Sequence[str] = (),
          scale_capacity: bool = False) -> SweepResult:
    """Run every combination of ``sets`` (``"key.path=v1,v2,..."``), each ``replications`` times
    with independent streams, and summarise each metric as a mean with a 95% interval.

    Everything is validated before the first run. ``scheduler`` runs on a Dask cluster; ``csv``
    also writes every metric of every combination to that file. Sweeps write no logs.
    ``thresholds`` (``"metric<op>number"``) join the scenario's; ``metrics`` are measured too
    (named points and clock windows, which are not measured unless asked for).
    """
    plan = sweep_mod.plan(scenario, replications, list(sets), scale=scale, seed=seed,
                          attacker=attacker_for, thresholds=tuple(thresholds),
                          metrics=tuple(metrics), scale_capacity=scale_capacity)
    if csv is not None and not Path(csv).parent.exists():
        raise CardsimError(f"--csv {csv}: directory {Path(csv).parent} does not exist")
    result = sweep_mod.run_sweep(plan, workers=workers or default_workers(), scheduler=scheduler,
                                 progress=_per_step(progress, len(plan.tasks())))
    result["scale_warning"] = scale_warning(scale, scale_capacity)
    if csv is not None:
        sweep_mod.write_csv(result, csv)
    return SweepResult(result, Path(csv) if csv is not None else None)


def report(source: str | Path, out: str | Path | None = None) -> Path:
    """Write one self-contained HTML report for a log (.db) or a sweep result (.json); returns
    the file written (default: the source's name with .html)."""
    return write_report(source, out)


def open_log(path: str | Path) -> Log:
    """Open a log read-only: ``.run`` (the runs row), ``.scenario``, ``.summary`` and
    ``.transactions()`` (:class:`cardsim.records.record.Record` named tuples, in log order).
    Use it as a context manager, or call ``.close()``."""
    return Log.open(path)


# --- live nodes (cardsim.net; docs/protocol.md, docs/replay.md) ----------------------------------

def serve(role: str, listen: str = "127.0.0.1:0", *, log: str | Path | None = None,
          scenario: str | Path | None = None, keys_dir: str | Path = "keys",
          province: str | None = None, routes: Sequence[str] = (), issuer_timeout: float = 1.0,
          idle_timeout: float = 30.0, max_connections: int = 512,
          passphrase: bytes | None = None, merchant: str | None = None,
          ready: Callable[[str, int], None] | None = None) -> None:
    """Run one node (``issuer`` of ``province``; ``hub`` with ``routes`` ``PROVINCE=HOST:PORT``;
    ``acquirer`` of ``merchant`` with one upstream route ``HOST:PORT``, the hub) from the log at
    ``log`` (or the scenario file ``scenario``: its rules and cards, no loss reports), listening on ``listen`` until SIGTERM or SIGINT; ``ready(host, port)`` is called
    once it accepts connections (by default ``listening on HOST:PORT`` on stderr)."""
    from cardsim.net import serve as serve_mod
    from cardsim.net.server import Limits
    if not 1 <= max_connections <= 100_000:
        raise CardsimError(f"--max-connections {max_connections}: expected 1..100000")
    for flag, v in (("--idle-timeout", idle_timeout), ("--issuer-timeout", issuer_timeout)):
        if not 0 < v <= 3600:
            raise CardsimError(f"{flag} {v}: expected 0 < seconds <= 3600")
    limits = Limits(max_connections=max_connections, idle_s=idle_timeout)
    server = serve_mod.build(role, log, keys_dir, province, routes, issuer_timeout, passphrase,
                             limits, merchant=merchant, scenario=scenario)
    if ready is None:
        serve_mod.serve(server, listen)
    else:
        serve_mod.serve(server, listen, ready)


def replay_live(log: str | Path, targets: Sequence[str], *, keys_dir: str | Path = "keys",
                channel: str | None = None, province: str | None = None,
                time_from: float | None = None, time_to: float | None = None,
                card: str | None = None, limit: int | None = None, concurrency: int = 8,
                timeout: float = 2.0, rate: float | None = None, speed: float | None = None,
                progress: Progress | None = None):
    """Replay the log's online requests against live nodes (``targets``: ``NAME=HOST:PORT``
    with NAME ``hub``, ``issuer-sichuan``, ``issuer-chongqing`` or ``acquirer-MERCHANT``) and
    compare their answers with
    the recorded decisions; returns a ``cardsim.net.replay.TargetReplayResult`` (``.ok``)."""
    from cardsim.net.replay import replay_targets
    filters = _filters(channel, province, time_from, time_to, card, limit)
    return replay_targets(log, targets, keys_dir, filters, concurrency, timeout, rate, speed,
                          progress)


def conform(target: str, log: str | Path, *, keys_dir: str | Path = "keys", timeout: float = 2.0,
            passphrase: bytes | None = None):
    """Run the conformance suite (``cardsim.net.conform``) against the live node ``target``
    (``NAME=HOST:PORT``), its requests made from the log's cards and the keys directory's issuer
    keys; returns a ``ConformResult`` (``.ok``: no case failed)."""
    from cardsim.net.conform import conform as conform_
    if not 0 < timeout <= 600:
        raise CardsimError(f"--timeout {timeout}: expected 0 < seconds <= 600")
    return conform_(target, log, keys_dir, timeout, passphrase)
# --- proofs ---------------------------------------------------------------------------------------

def prove_inclusion(log: str | Path, tx_id: str) -> dict:
    """The JSON proof (a dict) that transaction ``tx_id`` is in the log: the record, its leaf
    index, the tree size, the audit path and the hub's signed tree head (docs/log-format.md)."""
    return proofs_mod.prove_inclusion(log, tx_id)


def prove_consistency(log: str | Path, size1: int, size2: int) -> dict:
    """The JSON proof (a dict) that the log's signed tree head of ``size2`` records extends its
    head of ``size1``."""
    return proofs_mod.prove_consistency(log, size1, size2)


def witness(log: str | Path, witness_dir: str | Path, state: str | Path, *,
            anchor_dir: str | Path | None = None,
            peers: Sequence[str | Path] = ()) -> WitnessResult:
    """Act as a witness: check the log's latest signed tree head against the last head this
    witness countersigned (``state``; a consistency proof) and against ``peers`` (other witnesses'
    state files: a split view is caught here), countersign it with the witness's key in
    ``witness_dir`` (created there on first use) and save the state. ``anchor_dir`` holds the
    root-ca.pem the witness trusts (default: ``witness_dir``). ``.ok`` False: nothing saved."""
    return witness_mod.witness(log, witness_dir, state, anchor_dir, tuple(peers))


def check_proof(proof: str | Path, keys_dir: str | Path = "keys") -> ProofCheck:
    """Check a proof file against ``keys_dir``/root-ca.pem alone, without the log: a
    :class:`ProofCheck` (``.valid``, ``.reason``); a :class:`CardsimError` for an unusable file."""
    return proofcheck_mod.check_proof(proof, keys_dir)

"""The planners' what-if commands: ``retime`` (a log's demand under other capacity) and
``sweep`` (combinations of scenario values, replicated). Thin layers over ``cardsim.retime`` and
``cardsim.sweep``; they register on :data:`cardsim.cli.app.app` when that module imports this one."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

import cardsim
from cardsim.cli.app import (FORCE_OPT, JSON_OPT, KEYS_OPT, LOG_ARG, PASS_OPT, QUIET_OPT, RULES_OPT,
                             SCALE_CAP_OPT, SCALE_OPT, SCENARIO_ARG, SET_OPT, THRESHOLD_OPT,
                             WORKERS_OPT, ReportConsole, app, inert, notice, print_json,
                             progress_bar, read_passphrase, show_run, stdout_may_close,
                             user_errors)
from cardsim.reports.text import render_sweep


@app.command()
def retime(
    log: Path = LOG_ARG,
    scenario: Optional[Path] = RULES_OPT,
    sets: Optional[List[str]] = SET_OPT,
    thresholds: Optional[List[str]] = THRESHOLD_OPT,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the new run's signed log "
                                       "to this SQLite file."),
    force: bool = FORCE_OPT,
    keys: Path = KEYS_OPT,
    passphrase_env: Optional[str] = PASS_OPT,
    workers: Optional[int] = WORKERS_OPT,
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Trace-driven what-if: yesterday's real demand, tomorrow's capacity.

    The log's arrivals are run through the simulation clock, at their logged times, under
    --scenario's (or the log's own, with --set) terminals, service times, issuer and hub
    capacities, outages and rules; queues, waits and utilisation follow. Prints a run summary and
    the scenario's thresholds; exit 1 when one fails. A --set key that cannot change the result
    (population, demand, the log's seed and span) is an error.
    """
    with user_errors():
        _retime(log, scenario, sets, out, force, keys, passphrase_env, workers, as_json, quiet,
                thresholds)


def _retime(log: Path, scenario: Optional[Path], sets: Optional[List[str]], out: Optional[Path],
            force: bool, keys: Path, passphrase_env: Optional[str], workers: Optional[int],
            as_json: bool, quiet: bool, thresholds: Optional[List[str]] = None) -> None:
    with progress_bar(quiet, "retime", hours=True) as progress:
        result = cardsim.retime(log, scenario, sets=sets or (), out=out, force=force, keys_dir=keys,
                            passphrase=read_passphrase(passphrase_env), workers=workers,
                            progress=progress, notify=notice, thresholds=thresholds or ())
    show_run(result, as_json)


@app.command()
def sweep(
    scenario: Path = SCENARIO_ARG,
    replications: int = typer.Option(..., "--replications", "-n", help="Runs per combination "
                                     "(at least 2), each with its own random stream."),
    sets: Optional[List[str]] = typer.Option(None, "--set", metavar="KEY.PATH=V1,V2,...",
                                             help="Sweep a key over values (repeatable: every "
                                                  "combination runs); a single value just overrides."),
    thresholds: Optional[List[str]] = THRESHOLD_OPT,
    metrics: Optional[List[str]] = typer.Option(None, "--metric", metavar="NAME",
                                                help="Also measure this metric (repeatable): a "
                                                     "named point's or a clock window's, e.g. "
                                                     "wait.chongqing.scenic_gate.10:00-12:00.p95."),
    scale: float = SCALE_OPT,
    scale_capacity: bool = SCALE_CAP_OPT,
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the base seed."),
    workers: Optional[int] = WORKERS_OPT,
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="Run on a Dask distributed cluster, e.g. "
                                                 "tcp://host:8786 (needs cardsim[dask])."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Write every metric of every "
                                           "combination (mean, 95% CI) to this CSV file."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Run every combination of --set values, each --replications times, and report each metric
    as a mean with a 95% confidence interval.

    Replications use independent random streams spawned from the base seed (the same streams for
    every combination). Thresholds in the scenario are tested on the interval's bound (upper for
    < and <=, lower for > and >=); exit 1 when any fails. Sweeps write no transaction logs.
    """
    with user_errors():
        with progress_bar(quiet, f"sweep {scenario.stem}") as progress:
            result = cardsim.sweep(scenario, replications, sets or (), scale=scale, seed=seed,
                               workers=workers, scheduler=scheduler, csv=csv_out,
                               progress=progress, thresholds=thresholds or (),
                               metrics=metrics or (), scale_capacity=scale_capacity)
    with stdout_may_close():
        if as_json:
            print_json(result.summary)
        else:
            render_sweep(result.summary, ReportConsole())
            if result.summary.get("scale_warning"):
                typer.echo(f"note: {inert(result.summary['scale_warning'])}")
    if not result.passed:
        raise typer.Exit(1)

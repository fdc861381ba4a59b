"""The ``cardsim`` command line: a thin layer over :mod:`cardsim.api`.

Conventions: ``--json`` prints one JSON object alone on stdout; progress goes to stderr and only
when stderr is a terminal and ``--quiet`` is not given. Exit codes: 0 ok, 1 the check found
problems, 2 bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from cardsim.domain import CHANNELS
from cardsim.domain import PROVINCES
from cardsim.domain import __version__
from cardsim import api
from cardsim.errors import CardsimError, one_line
from cardsim.config.scenario import load

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Discrete-event simulator of social-security one-card transactions "
                       "across Sichuan and Chongqing.")


def fail(message: str) -> None:
    """Print one line on stderr and exit 2 (bad input)."""
    typer.echo(f"cardsim: error: {one_line(message)}", err=True)
    raise typer.Exit(2)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except CardsimError as e:
        fail(str(e))
    except KeyboardInterrupt:
        typer.echo("cardsim: interrupted", err=True)
        raise typer.Exit(130) from None


def show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def sim_progress(enabled: bool, total_s: float, label: str):
    """A rich progress bar on stderr in simulated hours, or a no-op."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed:.1f}/{task.total:.1f} simulated h"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total_s / 3600.0)
        yield lambda now: bar.update(task, completed=now / 3600.0)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


SCENARIO_ARG = typer.Argument(..., help="Scenario file (TOML), e.g. scenarios/weekday.toml.")
SET_OPT = typer.Option(None, "--set", metavar="KEY.PATH=VALUE",
                       help="Override one scenario key (repeatable), validated like the file.")
SCALE_OPT = typer.Option(1.0, "--scale", help="Multiply population and demand (0.01 for a quick "
                                              "look, 10 for a stress run).")
JSON_OPT = typer.Option(False, "--json", help="Print the report as one JSON object on stdout.")
QUIET_OPT = typer.Option(False, "--quiet", "-q", help="No progress bar.")
KEYS_OPT = typer.Option(Path("keys"), "--keys", help="Keys directory (see `cardsim keys init`).")
PASS_OPT = typer.Option(None, "--passphrase-env", metavar="VAR",
                        help="Environment variable holding the passphrase of the private keys.")
WORKERS_OPT = typer.Option(None, "--workers", min=1, help="Worker processes (default: all cores).")

keys_app = typer.Typer(no_args_is_help=True, help="Create and manage the signing keys.")
app.add_typer(keys_app, name="keys")


@app.command()
def run(
    scenario: Path = SCENARIO_ARG,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the transaction log to "
                                       "this SQLite file (refuses to replace one without --force)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override simulation.seed."),
    scale: float = SCALE_OPT,
    sets: Optional[List[str]] = SET_OPT,
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
    keys: Path = KEYS_OPT,
    passphrase_env: Optional[str] = PASS_OPT,
    workers: Optional[int] = WORKERS_OPT,
    no_sign: bool = typer.Option(False, "--no-sign", help="Write an unsigned log (no signatures, "
                                 "no hash chain): faster planning runs."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Simulate a scenario, write its transaction log and print a summary.

    With --out, every record is signed by its card (and, online, its issuer), hash-chained and
    checkpointed; keys are created in --keys on first use.

    The summary gives transactions and throughput per channel and province, declines by reason,
    waits per service point type, node utilisation, issuer latency, cross-province clearing and
    blacklist exposure.
    """
    with user_errors():
        sc = load(scenario, sets=sets or (), scale=scale, seed=seed)
        with sim_progress(show_progress(quiet), sc.duration_s, f"run {sc.name}") as progress:
            summary = api.run(sc, out=out, force=force, progress=progress, sign=not no_sign,
                              keys_dir=keys, passphrase_env=passphrase_env, workers=workers,
                              notify=lambda m: typer.echo(f"cardsim: {m}", err=True))
    from cardsim.config.metrics import evaluate, thresholds_of
    checks = evaluate(summary, thresholds_of(sc.config))
    summary["thresholds"] = checks
    if as_json:
        print_json(summary)
    else:
        from rich.console import Console

        from cardsim.model.summary import render, render_thresholds
        console = Console()
        render(summary, console)
        render_thresholds(checks, console)
        if out is not None:
            typer.echo(f"log: {out}")
    if any(not c["passed"] for c in checks):
        raise typer.Exit(1)


@app.command()
def verify(
    log: Path = typer.Argument(..., help="The log to verify (a cardsim run's SQLite file)."),
    keys: Path = typer.Option(Path("keys"), "--keys", help="Keys directory holding the trust "
                              "anchor root-ca.pem (no private key is needed)."),
    workers: Optional[int] = WORKERS_OPT,
    ground_truth: bool = typer.Option(False, "--ground-truth", help="Also compare the findings "
                                      "with the attacks the run injected (its ground_truth table)."),
    max_findings: int = typer.Option(20, "--max-findings", min=0, help="Findings listed in the "
                                     "text report (all of them, up to 100,000, go to --json)."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Verify a log: certificates, signatures, validity, revocation, ATCs, sequence, hash chain,
    checkpoints and the terminals' signed uploads, trusting only the root certificate in --keys.

    Exit 0 when every check holds, 1 when any fails, 2 when the log or keys are unusable.
    """
    from cardsim.audit import verify as verifier
    with user_errors():
        total = _count_rows(log)
        with count_progress(show_progress(quiet), total, "verify") as progress:
            report = verifier.verify(log, keys, workers=workers or api.default_workers(),
                                     progress=progress)
        truth = None
        if ground_truth:
            truth = api.ground_truth(log, report)
    out = report.as_dict()
    if truth is not None:
        out["ground_truth"] = truth
    if as_json:
        print_json(out)
    else:
        from rich.console import Console

        from cardsim.report.text import render_verify
        render_verify(out, Console(), max_findings)
    failed = not report.ok or (truth is not None and not truth["all_detected"])
    raise typer.Exit(1 if failed else 0)


@app.command()
def replay(
    log: Path = typer.Argument(..., help="The log to replay (a cardsim run's SQLite file)."),
    scenario: Optional[Path] = typer.Option(None, "--scenario", help="Replay under this "
                                            "scenario's rules and capacities instead of the log's own."),
    sets: Optional[List[str]] = SET_OPT,
    against: str = typer.Option("merchant,issuer", "--against", help="Nodes that re-decide: "
                                "merchant, issuer or both (the others' decisions are taken as recorded)."),
    keys: Path = typer.Option(Path("keys"), "--keys", help="Keys directory holding root-ca.pem "
                              "(for the merchant's certificate and signature checks)."),
    no_signatures: bool = typer.Option(False, "--no-signatures", help="Skip the merchant's "
                                       "certificate and signature checks."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Replay only this channel: "
                                          "transit, tourism or government."),
    province: Optional[str] = typer.Option(None, "--province", help="Replay only terminals in "
                                           "this province: sichuan or chongqing."),
    time_from: Optional[float] = typer.Option(None, "--from", help="Replay from this simulated time (s)."),
    time_to: Optional[float] = typer.Option(None, "--to", help="Replay up to this simulated time (s)."),
    card: Optional[str] = typer.Option(None, "--card", help="Replay only this card's transactions."),
    limit: Optional[int] = typer.Option(None, "--limit", min=0, help="Replay at most N records."),
    speed: Optional[float] = typer.Option(None, "--speed", min=0.000001, help="Pace the replay at "
                                          "X times simulated time on the wall clock."),
    diff_out: Optional[Path] = typer.Option(None, "--diff-out", help="Write every divergence to "
                                            "this CSV file."),
    timing: bool = typer.Option(False, "--timing", help="Trace-driven what-if: re-run the logged "
                                "arrivals through the simulation clock under --scenario's "
                                "capacities; prints a run summary."),
    out: Optional[Path] = typer.Option(None, "--out", help="With --timing: write the new run's log here."),
    force: bool = typer.Option(False, "--force", help="With --out: replace an existing file."),
    workers: Optional[int] = WORKERS_OPT,
    max_divergences: int = typer.Option(20, "--max-divergences", min=0, help="Divergences listed "
                                        "in the text report (all go to --json and --diff-out)."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Replay a log against fresh merchant and issuer nodes and report what diverges.

    Every logged transaction, in log order, is decided again by the simulator's own node rules,
    configured from the log's scenario or --scenario (with --set), and compared with the recorded
    outcome, reason and amount. Exit 0 when nothing diverges, 1 when anything does, 2 on bad input.
    """
    from cardsim.audit import replay as rp
    with user_errors():
        if channel is not None and channel not in CHANNELS:
            raise CardsimError(f"--channel: must be one of {', '.join(CHANNELS)}, got {channel!r}")
        if province is not None and province not in PROVINCES:
            raise CardsimError(f"--province: must be one of {', '.join(PROVINCES)}, got {province!r}")
        nodes = tuple(a.strip() for a in against.split(",") if a.strip())
        rules = None
        if scenario is not None:
            rules = load(scenario, sets=sets or ())
        elif sets:
            rules = rp.log_scenario(log, sets)
        if timing:
            from cardsim.audit.retime import replay_timing
            span = rp.log_scenario(log).duration_s
            with sim_progress(show_progress(quiet), span, "replay --timing") as progress:
                summary = replay_timing(log, rules, out=out, force=force, keys_dir=keys,
                                        workers=workers or api.default_workers(), progress=progress)
            if as_json:
                print_json(summary)
            else:
                from rich.console import Console

                from cardsim.model.summary import render
                render(summary, Console())
            raise typer.Exit(0)
        filters = rp.Filters(channel, province, time_from, time_to, card, limit)
        total = _count_rows(log)
        with count_progress(show_progress(quiet), total, "replay") as progress:
            result = rp.replay(log, rules, nodes, keys_dir=keys, workers=workers or api.default_workers(),
                               filters=filters, check_signatures=not no_signatures, speed=speed,
                               diff_out=diff_out, progress=progress)
    out_d = result.as_dict()
    if as_json:
        print_json(out_d)
    else:
        from rich.console import Console

        from cardsim.report.text import render_replay
        render_replay(out_d, Console(), max_divergences)
    raise typer.Exit(1 if result.diverged else 0)


@app.command()
def sweep(
    scenario: Path = SCENARIO_ARG,
    replications: int = typer.Option(..., "--replications", "-n", help="Runs per combination "
                                     "(at least 2), each with its own random stream."),
    sets: Optional[List[str]] = typer.Option(None, "--set", metavar="KEY.PATH=V1,V2,...",
                                             help="Sweep a key over values (repeatable: every "
                                                  "combination runs); a single value just overrides."),
    scale: float = SCALE_OPT,
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
    from cardsim.planning import sweep as sw
    with user_errors():
        p = sw.plan(scenario, replications, sets or [], scale=scale, seed=seed)
        n = len(p.tasks())
        with count_progress(show_progress(quiet), n, f"sweep {p.scenario.name} ({n} runs)") as progress:
            result = sw.run_sweep(p, workers=workers or api.default_workers(), scheduler=scheduler,
                                  progress=progress)
        if csv_out is not None:
            if not csv_out.parent.exists():
                raise CardsimError(f"--csv {csv_out}: directory {csv_out.parent} does not exist")
            sw.write_csv(result, csv_out)
    if as_json:
        print_json(result)
    else:
        from rich.console import Console

        from cardsim.report.text import render_sweep
        render_sweep(result, Console())
    if any(not c["passed"] for combo in result["combinations"] for c in combo["thresholds"]):
        raise typer.Exit(1)


@app.command()
def report(
    source: Path = typer.Argument(..., help="A run log (.db) or a sweep result (`cardsim sweep "
                                  "--json` output, .json)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="The HTML file to write "
                                       "(default: the source's name with .html)."),
) -> None:
    """Write one self-contained HTML report (offline: charts inlined as SVG) for a run or a sweep."""
    from cardsim.report.html import write_report
    with user_errors():
        path = write_report(source, out)
    typer.echo(f"report: {path}")


def _count_rows(path: Path) -> int:
    from cardsim.log.store import open_log
    conn = open_log(path)
    try:
        return conn.execute("SELECT max(seq) FROM transactions").fetchone()[0] or 0
    except Exception:
        return 0
    finally:
        conn.close()


@contextlib.contextmanager
def count_progress(enabled: bool, total: int, label: str):
    """A rich progress bar on stderr counting records, or a no-op."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.update(task, completed=n)


@keys_app.command("init")
def keys_init(
    dir: Path = typer.Option(Path("keys"), "--dir", help="Directory to create the keys in."),
    algorithm: str = typer.Option("ed25519", "--algorithm",
                                  help="Signature algorithm: ed25519 or ecdsa-p256."),
    passphrase_env: Optional[str] = typer.Option(None, "--passphrase-env", metavar="VAR",
                                                 help="Encrypt the private keys with the "
                                                      "passphrase in this environment variable."),
    force: bool = typer.Option(False, "--force", help="Replace existing keys."),
) -> None:
    """Create the root CA, an issuer CA per province, a key per merchant/acquirer and the hub's key.

    Private keys are PEM files of mode 0600 (encrypted with --passphrase-env); certificates are
    X.509 PEM files. Card and terminal keys are derived from their issuer's and merchant's keys
    when a run first uses them; their certificates (signed by that issuer or merchant) go into
    the run's log. --force also deletes the card register (cards.db) of the keys it replaces.
    """
    with user_errors():
        written = api.init_keys(dir, algorithm, passphrase_env, force)
    typer.echo(f"wrote {len(written) // 2} keys and certificates ({algorithm}) to {dir}/; card "
               "and terminal keys derive from the issuers' and merchants' keys as runs use them")


@app.command()
def version() -> None:
    """Print the cardsim version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

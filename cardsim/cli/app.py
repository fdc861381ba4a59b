"""The ``cardsim`` command line: a thin layer over the Python API (``import cardsim``).

Each command parses its options, calls the API function of the same name and renders the result;
every check of the input and every threshold lives in the API. The API loads on the first call
(``cardsim.__getattr__``), so ``--help`` and ``version`` do not import the simulator.

Conventions: ``--json`` prints one JSON object alone on stdout; progress goes to stderr and only
when stderr is a terminal and ``--quiet`` is not given. Exit codes: 0 ok, 1 the check found problems, 2 bad input (one line on
stderr, no traceback: ``CardsimError.exit_code``).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

import cardsim
from cardsim.cli import live
from cardsim.domain import __version__
from cardsim.errors import CardsimError, one_line
from cardsim.reports.text import (inert, markup, render_replay, render_summary,
                                  render_thresholds, render_verify)

# Help is plain text (``rich_markup_mode=None``): flags show as flags (rich's help gave each a
# "<bool>" metavar), a bracket in a help text such as ``cardsim[dask]`` is not taken for markup,
# and it reads the same in a pipe. ``--install-completion`` / ``--show-completion``: shell completion.
app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Discrete-event simulator of social-security one-card transactions "
                       "across Sichuan and Chongqing.")
keys_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                       help="Create and manage the signing keys.")
app.add_typer(keys_app, name="keys")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version,
                                          is_eager=True, help="Print the cardsim version and exit.")) -> None:
    pass


def fail(message: str, code: int = CardsimError.exit_code) -> None:
    """Print one line on stderr and exit with ``code`` (bad input: 2). The message may quote a
    log or a file name: its control characters are shown as escapes (:func:`inert`)."""
    typer.echo(f"cardsim: error: {inert(one_line(message))}", err=True)
    raise typer.Exit(code)


def discard_stdout() -> None:
    """Point stdout at the null device once its reader has gone (``| head -1``): later writes and
    the flush at exit go nowhere instead of failing."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@contextlib.contextmanager
def stdout_may_close() -> Iterator[None]:
    """Write a report on stdout; a reader that closes the pipe early is not an error: the rest of
    the report is discarded and the exit code stays the one the command decides."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()


class ReportConsole(Console):
    """The reports' console on stdout: no emoji codes (``:smile:`` from a log prints as is), and
    a closed pipe discards the rest (rich's default exits with code 1)."""

    def __init__(self) -> None:
        super().__init__(emoji=False)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        discard_stdout()


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`CardsimError` into one line and its exit code; Ctrl-C into exit 130."""
    try:
        yield
    except CardsimError as e:
        fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        typer.echo("cardsim: interrupted", err=True)
        raise typer.Exit(130) from None


class _HoursColumn(ProgressColumn):
    """Simulated hours done of the total, once the total is known (the first update)."""

    def render(self, task) -> Text:
        if task.total is None:
            return Text(f"{task.completed:.1f} simulated h")
        return Text(f"{task.completed:.1f}/{task.total:.1f} simulated h")


@contextlib.contextmanager
def progress_bar(quiet: bool, label: str,
                 hours: bool = False) -> Iterator[Callable[[float, float], None] | None]:
    """A rich progress bar on stderr fed by the API's ``progress(done, total)``, or None when
    ``--quiet`` or stderr is not a terminal. ``hours``: done and total are simulated seconds."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    unit = 3600.0 if hours else 1.0
    count = _HoursColumn() if hours else MofNCompleteColumn()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), count, TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(),
                  console=Console(stderr=True, emoji=False), transient=True) as bar:
        task = bar.add_task(markup(label), total=None)
        yield lambda done, total: bar.update(task, completed=done / unit, total=total / unit)


def read_passphrase(var: str | None) -> bytes | None:
    """``--passphrase-env VAR``: the passphrase in that environment variable, as bytes."""
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise CardsimError(f"--passphrase-env {var}: environment variable is "
                           f"{'not set' if value is None else 'empty'}")
    return value.encode("utf-8")


def print_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def notice(message: str) -> None:
    typer.echo(f"cardsim: {inert(message)}", err=True)


def refuse(mode: str, given: dict[str, bool]) -> None:
    """Bad input: an option that has no effect in ``mode``."""
    for flag, present in given.items():
        if present:
            raise CardsimError(f"{flag}: has no effect {mode}")


SCENARIO_ARG = typer.Argument(..., metavar="SCENARIO", help="Scenario file (TOML), e.g. scenarios/weekday.toml.")
LOG_ARG = typer.Argument(..., metavar="LOG", help="A cardsim run's log (SQLite file).")
SET_OPT = typer.Option(None, "--set", metavar="KEY.PATH=VALUE",
                       help="Override one scenario key (repeatable), validated like the file.")
RULES_OPT = typer.Option(None, "--scenario", help="Apply this scenario's rules and capacities "
                         "instead of the log's own.")
SCALE_OPT = typer.Option(1.0, "--scale", help="Multiply population and demand (0.01 for a quick "
                         "look, 10 for a stress run); terminals stay as they are, so below 1 "
                         "queues are lighter than the real system's (see --scale-capacity).")
SCALE_CAP_OPT = typer.Option(False, "--scale-capacity", help="Scale the terminals with --scale "
                             "too (rounded up), so that per-terminal load, and waits, stay "
                             "close to the full system's.")
JSON_OPT = typer.Option(False, "--json", help="Print the report as one JSON object on stdout.")
QUIET_OPT = typer.Option(False, "--quiet", "-q", help="No progress bar.")
KEYS_OPT = typer.Option(Path("keys"), "--keys", help="Keys directory (see `cardsim keys init`); "
                        "keys are created there on first use.")
ANCHOR_OPT = typer.Option(Path("keys"), "--keys", help="Keys directory holding the trust anchor "
                          "root-ca.pem (no private key is needed).")
PASS_OPT = typer.Option(None, "--passphrase-env", metavar="VAR",
                        help="Environment variable holding the passphrase of the private keys.")
WORKERS_OPT = typer.Option(None, "--workers", min=1, help="Worker processes (default: all cores).")
FORCE_OPT = typer.Option(False, "--force", help="Replace an existing --out file.")
THRESHOLD_OPT = typer.Option(None, "--threshold", metavar="METRIC<OP>N",
                             help="Add a threshold (repeatable; quote it for the shell), e.g. "
                                  "'wait.chongqing.scenic_gate.p95<120'; exit 1 when one fails. "
                                  "Metric names: docs/summary.md.")


def show_run(result: cardsim.RunResult, as_json: bool) -> None:
    """Print a run's (or retime's) summary and thresholds; exit 1 when a threshold fails."""
    with stdout_may_close():
        if as_json:
            print_json(result.as_dict())
        else:
            console = ReportConsole()
            render_summary(result.summary, console)
            render_thresholds(list(result.thresholds), console)
            if result.summary.get("scale_warning"):
                typer.echo(f"note: {inert(result.summary['scale_warning'])}")
            if result.log is not None:
                typer.echo(f"log: {inert(result.log)}")
    if not result.passed:
        raise typer.Exit(1)


@app.command()
def run(
    scenario: Path = SCENARIO_ARG,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the transaction log to "
                                       "this SQLite file (refuses to replace one without --force)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override simulation.seed."),
    scale: float = SCALE_OPT,
    scale_capacity: bool = SCALE_CAP_OPT,
    sets: Optional[List[str]] = SET_OPT,
    thresholds: Optional[List[str]] = THRESHOLD_OPT,
    force: bool = FORCE_OPT,
    keys: Path = KEYS_OPT,
    passphrase_env: Optional[str] = PASS_OPT,
    workers: Optional[int] = WORKERS_OPT,
    no_sign: bool = typer.Option(False, "--no-sign", help="Write an unsigned log (no signatures, "
                                 "no hash chain): faster planning runs."),
    after: Optional[Path] = typer.Option(None, "--after", help="Follow this complete signed log "
                                         "(the day before): its cards' counters, balances and "
                                         "quotas and its loss reports carry over, and the new log "
                                         "commits to its final signed tree head."),
    days: Optional[int] = typer.Option(None, "--days", min=1, max=366, help="Run a linked series "
                                       "of N daily logs into --out-dir (day1.db, day2.db, ...): "
                                       "one day later and seed + 1 each day."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="With --days: the directory "
                                           "for the daily logs."),
    weekend: Optional[Path] = typer.Option(None, "--weekend", help="With --days: the scenario of "
                                           "Saturdays and Sundays (default: SCENARIO every day)."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Simulate a scenario, write its transaction log and print a summary.

    With --out, every record is signed by its card (and, online, its issuer), hash-chained and
    checkpointed; keys are created in --keys on first use.

    The summary gives transactions and throughput per channel and province, declines by reason,
    waits per service point type, node utilisation, issuer latency, cross-province clearing and
    blacklist exposure. Exit 1 when a scenario threshold fails.
    """
    with user_errors():
        sc = cardsim.load_scenario(scenario, sets=sets or (), scale=scale, seed=seed,
                                   thresholds=thresholds or (), scale_capacity=scale_capacity)
        if days is not None or out_dir is not None or weekend is not None:
            refuse("with --days", {"--out": out is not None, "--no-sign": no_sign})
            if days is None or out_dir is None:
                raise CardsimError("--days and --out-dir: give both for a linked series")
            with progress_bar(quiet, f"run {sc.name}", hours=True) as progress:
                results = cardsim.run_days(
                    sc, days, out_dir, weekend=cardsim.load_scenario(weekend, sets=sets or (),
                                                                     scale=scale) if weekend else None,
                    after=after, force=force, keys_dir=keys,
                    passphrase=read_passphrase(passphrase_env), workers=workers,
                    progress=progress, notify=notice)
            return transparency.show_days(results, as_json)
        with progress_bar(quiet, f"run {sc.name}", hours=True) as progress:
            result = cardsim.run(sc, out, force=force, sign=not no_sign, keys_dir=keys,
                             passphrase=read_passphrase(passphrase_env), workers=workers,
                             progress=progress, notify=notice, after=after)
    show_run(result, as_json)


@app.command()
def verify(
    logs: List[Path] = typer.Argument(..., metavar="LOG...", help="The log to verify (a cardsim "
                                      "run's SQLite file); several: a series of daily logs, "
                                      "oldest first."),
    keys: Path = ANCHOR_OPT,
    workers: Optional[int] = WORKERS_OPT,
    ground_truth: bool = typer.Option(False, "--ground-truth", help="Also compare the findings "
                                      "with the attacks the run injected (its ground_truth table)."),
    max_findings: int = typer.Option(20, "--max-findings", min=0, help="Findings listed in the "
                                     "text report (all of them, up to 100,000, go to --json)."),
    witnesses: Optional[List[Path]] = typer.Option(None, "--witness", metavar="STATE.json",
                                                  help="A witness's state file (repeatable): the "
                                                       "log must hold every head it countersigned."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Verify a log: certificates, signatures, validity, revocation, ATCs, sequence, hash chain,
    checkpoints and the terminals' signed uploads, trusting only the root certificate in --keys.

    Exit 0 when every check holds, 1 when any fails, 2 when the log or keys are unusable.
    """
    with user_errors():
        if len(logs) > 1:
            refuse("with several logs", {"--ground-truth": ground_truth})
            series = cardsim.verify_series(logs, keys, workers=workers, witnesses=witnesses or ())
            return transparency.show_series(series, as_json, max_findings)
        with progress_bar(quiet, "verify") as progress:
            result = cardsim.verify(logs[0], keys, workers=workers, ground_truth=ground_truth,
                                progress=progress, witnesses=witnesses or ())
    with stdout_may_close():
        if as_json:
            print_json(result.as_dict())
        else:
            render_verify(result.as_dict(), ReportConsole(), max_findings)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def replay(
    log: Path = typer.Argument(..., metavar="LOG", help="The log to replay (a cardsim run's SQLite file)."),
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
    card: Optional[str] = typer.Option(None, "--card", help="Replay only this card's transactions "
                                       "and print its story: each record, recorded and replayed."),
    limit: Optional[int] = typer.Option(None, "--limit", min=0, help="Replay at most N records."),
    speed: Optional[float] = typer.Option(None, "--speed", min=0.000001, help="Pace the replay at "
                                          "X times simulated time on the wall clock."),
    diff_out: Optional[Path] = typer.Option(None, "--diff-out", help="Write every divergence to "
                                            "this CSV file: seq, tx_id, card, terminal, time, "
                                            "channel, service, province, amount, recorded and "
                                            "replayed decision (refuses to replace a file without "
                                            "--force)."),
    timing: bool = typer.Option(False, "--timing", help="The same as `cardsim retime` (kept as an "
                                "alias): takes --scenario, --set, --out, --force, --keys, "
                                "--passphrase-env, --workers, --json and --quiet."),
    out: Optional[Path] = typer.Option(None, "--out", help="With --timing: write the new run's log here."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --diff-out file (with "
                               "--timing: an existing --out file)."),
    passphrase_env: Optional[str] = typer.Option(None, "--passphrase-env", metavar="VAR",
                                                 help="With --timing --out: environment variable "
                                                      "holding the private keys' passphrase."),
    workers: Optional[int] = WORKERS_OPT,
    max_divergences: int = typer.Option(20, "--max-divergences", min=0, help="Divergences listed "
                                        "in the text report (all go to --json and --diff-out)."),
    target: Optional[List[str]] = typer.Option(None, "--target", metavar="NAME=HOST:PORT",
                                               help="Replay the online requests against this live "
                                                    "node instead (repeatable): hub, issuer-sichuan "
                                                    "or issuer-chongqing (docs/replay.md)."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, max=1024, help="With --target: "
                                    "requests in flight (a card's requests stay in log order)."),
    rate: Optional[float] = typer.Option(None, "--rate", min=0.000001, help="With --target: "
                                         "send at most this many requests per second."),
    timeout: float = typer.Option(2.0, "--timeout", min=0.001, help="With --target: seconds to "
                                  "wait for each answer."),
    as_json: bool = JSON_OPT,
    quiet: bool = QUIET_OPT,
) -> None:
    """Replay a log against fresh merchant and issuer nodes and report what diverges.

    Every logged transaction, in log order, is decided again by the simulator's own node rules,
    configured from the log's scenario or --scenario (with --set), and compared with the recorded
    outcome, reason and amount. Exit 0 when nothing diverges, 1 when anything does, 2 on bad input.
    """
    with user_errors():
        if target:
            refuse("with --target (the target's rules decide)", {
                "--timing": timing, "--scenario": scenario is not None, "--set": bool(sets),
                "--against": against != "merchant,issuer", "--no-signatures": no_signatures,
                "--diff-out": diff_out is not None, "--workers": workers is not None,
                "--out": out is not None, "--force": force,
                "--passphrase-env": passphrase_env is not None})
            filters = {"channel": channel, "province": province, "time_from": time_from,
                       "time_to": time_to, "card": card, "limit": limit}
            code = live.replay_target(log, target, keys, filters, concurrency, timeout, rate, speed,
                                      as_json, quiet, max_divergences, print_json,
                                      stdout_may_close, ReportConsole)
            raise typer.Exit(code)
        refuse("without --target", {"--rate": rate is not None, "--concurrency": concurrency != 8,
                                    "--timeout": timeout != 2.0})
        if timing:
            refuse("with --timing", {
                "--against": against != "merchant,issuer", "--no-signatures": no_signatures,
                "--channel": channel is not None, "--province": province is not None,
                "--from": time_from is not None, "--to": time_to is not None,
                "--card": card is not None, "--limit": limit is not None,
                "--speed": speed is not None, "--diff-out": diff_out is not None,
                "--max-divergences": max_divergences != 20})
            planning._retime(log, scenario, sets, out, force, keys, passphrase_env, workers,
                             as_json, quiet)
            return
        refuse("without --timing (see `cardsim retime`)", {
            "--out": out is not None, "--force": force and diff_out is None,
            "--passphrase-env": passphrase_env is not None})
        with progress_bar(quiet, "replay") as progress:
            result = cardsim.replay(log, scenario, sets=sets or (), against=against, keys_dir=keys,
                                check_signatures=not no_signatures, channel=channel,
                                province=province, time_from=time_from, time_to=time_to,
                                card=card, limit=limit, speed=speed, diff_out=diff_out,
                                workers=workers, progress=progress, force=force, notify=notice)
    with stdout_may_close():
        if as_json:
            print_json(result.as_dict())
        else:
            render_replay(result.as_dict(), ReportConsole(), max_divergences)
    raise typer.Exit(1 if result.diverged else 0)


# retime and sweep (the planners' what-ifs) register here, in this place of the command list
from cardsim.cli import planning  # noqa: E402,F401  (after the helpers it uses)


@app.command()
def report(
    source: Path = typer.Argument(..., metavar="SOURCE", help="A run log (.db) or a sweep result (`cardsim sweep "
                                  "--json` output, .json)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="The HTML file to write "
                                       "(default: the source's name with .html)."),
) -> None:
    """Write one self-contained HTML report (offline: charts inlined as SVG) for a run or a sweep."""
    with user_errors():
        path = cardsim.report(source, out)
    label = "" if source.suffix.lower() == ".json" else (
        " (counts recomputed from the log's records; the run's summary and metrics shown as "
        "unverified, and where they disagree with the records)")
    typer.echo(f"report: {inert(path)}{label}")


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
        written = cardsim.init_keys(dir, algorithm, read_passphrase(passphrase_env), force)
    typer.echo(f"wrote {len(written) // 2} keys and certificates ({algorithm}) to {dir}/; card "
               "and terminal keys derive from the issuers' and merchants' keys as runs use them")


@app.command()
def version() -> None:
    """Print the cardsim version."""
    typer.echo(__version__)


live.register(app, user_errors, read_passphrase, print_json, stdout_may_close, ReportConsole)
# the transparency commands (prove, check-proof, witness) register themselves on ``app``
from cardsim.cli import transparency  # noqa: E402,F401  (after the helpers it uses)


def main() -> None:
    _freeze_at_exit()
    app()


_FREEZE_REGISTERED = False     # the atexit handler of _freeze_at_exit is registered


def _freeze_at_exit() -> None:
    """Performance shortcut: as the process ends, CPython's last act is a full collection over
    every object a run left (a run's cards, queues and statistics: some 0.2-0.4 CPU s at scale
    1) that finds no garbage worth the scan: the model makes almost no cycles
    (cardsim.model.collector), and files and databases are closed where they are used, never
    left to the collector. Freezing the objects at exit (an atexit handler: only when the
    interpreter ends, so a caller that runs ``main`` in a longer-lived process keeps its
    collector) skips that pass."""
    global _FREEZE_REGISTERED
    if not _FREEZE_REGISTERED:
        atexit.register(gc.freeze)
        _FREEZE_REGISTERED = True


if __name__ == "__main__":  # pragma: no cover
    main()

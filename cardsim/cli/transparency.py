"""The transparency commands: ``prove inclusion``, ``prove consistency``, ``check-proof`` and
``witness`` (thin layers over ``cardsim.prove_*``, ``check_proof`` and ``witness``), and how
``run --days`` and ``verify`` of several logs (linked days) print. The commands register on
:data:`cardsim.cli.app.app` when that module imports this one."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

import cardsim
from cardsim.cli.app import (ANCHOR_OPT, JSON_OPT, LOG_ARG, ReportConsole, app, inert,
                             print_json, stdout_may_close, user_errors)
from cardsim.reports.text import render_verify

prove_app = typer.Typer(no_args_is_help=True, help="Print a JSON proof from a log for someone "
                        "without it: a transaction's inclusion, or one signed tree head "
                        "extending another (check it with `cardsim check-proof`).")
app.add_typer(prove_app, name="prove")


@prove_app.command("inclusion")
def prove_inclusion(
    log: Path = LOG_ARG,
    tx: str = typer.Option(..., "--tx", help="The transaction id (the log's tx_id column)."),
) -> None:
    """Prove that a transaction is in the log (JSON on stdout).

    The proof holds the record, its leaf index, the tree size, the Merkle audit path, the hub's
    signed tree head and certificate: `cardsim check-proof` checks it without the log."""
    with user_errors():
        proof = cardsim.prove_inclusion(log, tx)
    with stdout_may_close():
        print_json(proof)


@prove_app.command("consistency")
def prove_consistency(
    log: Path = LOG_ARG,
    size_from: int = typer.Option(..., "--from", help="Tree size of the earlier signed tree head."),
    size_to: int = typer.Option(..., "--to", help="Tree size of the later signed tree head."),
) -> None:
    """Prove that one signed tree head of the log extends another (JSON on stdout).

    An RFC 9162 consistency proof from the head of --from records to the head of --to records."""
    with user_errors():
        proof = cardsim.prove_consistency(log, size_from, size_to)
    with stdout_may_close():
        print_json(proof)


@app.command("check-proof")
def check_proof(
    proof: Path = typer.Argument(..., help="A proof file (`cardsim prove ...` output)."),
    keys: Path = ANCHOR_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Check a proof against the root certificate in --keys, without the log.

    Checked: the hub's certificate (issued by the root), its signature on every tree head, and
    the Merkle path (RFC 9162).

    Exit 0 when the proof holds, 1 when it does not, 2 when the file or keys are unusable.
    """
    with user_errors():
        result = cardsim.check_proof(proof, keys)
    with stdout_may_close():
        if as_json:
            print_json(result.as_dict())
        elif result.valid:
            typer.echo(f"valid {result.kind} proof: log {result.log_id[:16]}…, tree size "
                       f"{result.tree_size}")
        else:
            typer.echo(f"INVALID {result.kind} proof: {inert(result.reason or '')}")
    raise typer.Exit(0 if result.valid else 1)


@app.command()
def witness(
    log: Path = LOG_ARG,
    keys: Path = typer.Option(..., "--keys", help="The witness's directory: its own key "
                              "(witness.key, created on first use) and, unless --anchor, the "
                              "root-ca.pem it trusts."),
    state: Path = typer.Option(..., "--state", help="The witness's state file (created on first "
                               "use): the last head it countersigned for each log."),
    anchor: Optional[Path] = typer.Option(None, "--anchor", help="Directory holding the trusted "
                                          "root-ca.pem (default: --keys)."),
    peers: Optional[List[Path]] = typer.Option(None, "--peer", metavar="STATE.json",
                                               help="Another witness's state file (repeatable): "
                                                    "its head of this log must be in it."),
    as_json: bool = JSON_OPT,
) -> None:
    """Witness a log's latest signed tree head, and countersign it when it is consistent.

    The head must extend the head this witness last countersigned for the log (a consistency
    proof) and hold every --peer witness's head of it (a split view fails here).

    Exit 0 when countersigned, 1 when the log is inconsistent with a head seen before (the state
    is left as it was), 2 when the log, keys or a state file are unusable.
    """
    with user_errors():
        result = cardsim.witness(log, keys, state, anchor_dir=anchor, peers=peers or ())
    with stdout_may_close():
        if as_json:
            print_json(result.as_dict())
        elif result.ok:
            was = f" (after {result.previous_size})" if result.previous_size is not None else ""
            typer.echo(f"countersigned the head of {result.tree_size} records{was} of log "
                       f"{result.log_id[:16]}…")
            for note in result.notes:
                typer.echo(f"note: {inert(note)}")
        else:
            typer.echo(f"REFUSED: {inert(result.reason or '')}")
    raise typer.Exit(0 if result.ok else 1)


def show_series(series, as_json: bool, max_findings: int) -> None:
    """A series of daily logs: every log's report, then the findings between them."""
    with stdout_may_close():
        if as_json:
            print_json(series.as_dict())
        else:
            console = ReportConsole()
            for r in series.reports:
                render_verify(r.as_dict(), console, max_findings)
            typer.echo(f"series of {len(series.reports)} logs: {series.failures} failures "
                       f"between days  {'OK' if series.ok else 'FAILED'}")
            for f in series.findings[:max_findings]:
                typer.echo(f"  {inert(f['log'])} after {inert(f['previous'])}: "
                           f"{f['check']}: {inert(f['reason'])}")
    raise typer.Exit(0 if series.ok else 1)


def show_days(results: list, as_json: bool) -> None:
    """A linked series: one line (or object) per day; exit 1 when a threshold fails on any day."""
    with stdout_may_close():
        if as_json:
            print_json({"days": [{"log": str(r.log), **r.as_dict()} for r in results]})
        for r in results if not as_json else ():
            n = r.summary.get("transactions")
            typer.echo(f"{inert(r.log)}: {n} transactions, thresholds "
                       f"{'passed' if r.passed else 'FAILED'}")
    if not all(r.passed for r in results):
        raise typer.Exit(1)

"""The live-node commands of ``cardsim``: ``serve`` and ``conform``, and ``replay --target``'s
rendering (registered on the app by :mod:`cardsim.cli.app`). A thin layer over the API."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cardsim.reports.text import markup


@contextlib.contextmanager
def rate_bar(quiet: bool, label: str) -> Iterator[Callable[[float, float], None] | None]:
    """A progress bar on stderr with requests per second, or None (``--quiet``, not a terminal)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"),
                  TimeElapsedColumn(), console=Console(stderr=True, emoji=False),
                  transient=True) as bar:
        task = bar.add_task(markup(label), total=None, rate="")

        def update(done: float, total: float) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=done, total=total,
                       rate=f"{speed:.0f} req/s" if speed else "")
        yield update


def render_target_replay(d: dict, console: Console, max_rows: int) -> None:
    """The text report of a replay against live nodes."""
    console.print(f"[bold]replay against live nodes[/bold]: {markup(d['log'])}")
    console.print(f"{d['selected']} online requests selected of {d['records']} records, "
                  f"{d['sent']} sent, {d['matched']} matched, {d['diverged']} diverged, "
                  f"{d['not_replayed']} not replayed ({d['requests_per_second'] or 0} req/s)")
    t = Table("target", "address", "sent", "answered", "time-outs", "errors", "bad answers",
              "p50 ms", "p95 ms", "p99 ms", "max ms")
    for s in d["targets"]:
        lat = s["latency_ms"]
        t.add_row(markup(s["name"]), markup(s["address"]), *(str(s[k]) for k in (
            "sent", "answered", "timeouts", "errors", "bad_signatures")),
            *(str(lat[k]) for k in ("p50", "p95", "p99", "max")))
    console.print(t)
    for div in d["divergences"][:max_rows]:
        r, p = div["recorded"], div["replayed"]
        console.print(f"  {markup(str(div['tx_id']))} ({div['kind']}): recorded {r['code']} "
                      f"{r['outcome']} {r['reason']}, got {markup(str(p['code']))} "
                      f"{p['outcome']} {p['reason']}")
    for prob in d["problems"][:max_rows]:
        console.print(f"  {markup(str(prob['tx_id']))}: {markup(prob['problem'])}")
    console.print("[green]all answers match[/green]" if d["ok"] else "[red]not all answers match[/red]")


def register(app: typer.Typer, user_errors, read_passphrase, print_json, stdout_may_close,
             report_console) -> None:
    """Add ``serve`` and ``conform`` to ``app``."""
    _conform_command(app, user_errors, read_passphrase, print_json, stdout_may_close,
                     report_console)

    @app.command()
    def serve(
        role: str = typer.Argument(..., help="The node to run: issuer, hub or acquirer."),
        listen: str = typer.Option("127.0.0.1:0", "--listen", help="HOST:PORT to listen on "
                                   "(port 0 picks a free one); `listening on HOST:PORT` goes to stderr."),
        log: Optional[Path] = typer.Option(None, "--log", help="The log whose scenario, cards, "
                                           "loss reports and outages the node serves."),
        scenario: Optional[Path] = typer.Option(None, "--scenario", help="Instead of --log: serve "
                                                "this scenario's rules, outages and cards (no "
                                                "loss reports: those come from a run)."),
        keys: Path = typer.Option(Path("keys"), "--keys", help="Keys directory: the node's "
                                  "private key and the trust anchor root-ca.pem."),
        province: Optional[str] = typer.Option(None, "--province", help="issuer: its province, "
                                               "sichuan or chongqing."),
        route: Optional[List[str]] = typer.Option(None, "--route", metavar="PROVINCE=HOST:PORT",
                                                  help="hub: where a province's issuer listens "
                                                       "(repeatable); acquirer: HOST:PORT of the "
                                                       "hub it forwards online requests to."),
        merchant: Optional[str] = typer.Option(None, "--merchant", help="acquirer: the merchant "
                                               "it serves, e.g. sichuan-metro."),
        issuer_timeout: float = typer.Option(1.0, "--issuer-timeout", help="hub: seconds to wait "
                                             "for an issuer before standing in."),
        idle_timeout: float = typer.Option(30.0, "--idle-timeout", help="Seconds a connection may "
                                           "stay silent before it is closed."),
        max_connections: int = typer.Option(512, "--max-connections", help="Connections accepted "
                                            "at once; more are closed at once."),
        passphrase_env: Optional[str] = typer.Option(None, "--passphrase-env", metavar="VAR",
                                                     help="Environment variable holding the "
                                                          "private keys' passphrase."),
    ) -> None:
        """Run cardsim's issuer, hub or acquirer as an ISO 8583 network node (docs/protocol.md).

        The node decides with the simulator's own rules, configured from the log's scenario, and
        runs until SIGTERM or Ctrl-C (requests being handled are answered; exit 0). Every
        rejected input is logged on stderr in one line.
        """
        import cardsim.api as api
        with user_errors():
            api.serve(role, listen, log=log, scenario=scenario, keys_dir=keys, province=province,
                              routes=route or (), issuer_timeout=issuer_timeout,
                              idle_timeout=idle_timeout, max_connections=max_connections,
                              passphrase=read_passphrase(passphrase_env), merchant=merchant)


def _conform_command(app, user_errors, read_passphrase, print_json, stdout_may_close,
                     report_console) -> None:
    @app.command()
    def conform(
        target: str = typer.Option(..., "--target", metavar="NAME=HOST:PORT", help="The node "
                                   "under test: hub, issuer-sichuan or issuer-chongqing."),
        log: Path = typer.Option(..., "--log", help="The log the node under test serves (its "
                                 "cards, clock and loss reports make the requests)."),
        keys: Path = typer.Option(Path("keys"), "--keys", help="Keys directory with the issuer "
                                  "keys (test keys: they sign the crafted certificates and cards)."),
        timeout: float = typer.Option(2.0, "--timeout", help="Seconds to wait for each answer."),
        passphrase_env: Optional[str] = typer.Option(None, "--passphrase-env", metavar="VAR",
                                                     help="Environment variable holding the "
                                                          "private keys' passphrase."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON "
                                     "object on stdout."),
    ) -> None:
        """Check a live issuer or hub against docs/protocol.md with crafted requests.

        A valid request, a bad cryptogram, a replayed ATC, a lost card, an expired card
        certificate, a malformed message and an oversized frame; start the node fresh from
        --log. Prints a table of passes and failures; exit 1 on any failure, 2 on bad input or
        when the node cannot be reached.
        """
        import cardsim.api as api
        with user_errors():
            result = api.conform(target, log, keys_dir=keys, timeout=timeout,
                                 passphrase=read_passphrase(passphrase_env))
        with stdout_may_close():
            if as_json:
                print_json(result.as_dict())
            else:
                console = report_console()
                t = Table("case", "expected", "got", "result",
                          title=f"conformance of {markup(result.target)} at {markup(result.address)}")
                for c in result.cases:
                    t.add_row(c.name, markup(c.expected), markup(c.got), c.status)
                console.print(t)
        raise typer.Exit(0 if result.ok else 1)


def replay_target(log: Path, targets: List[str], keys: Path, filters: dict, concurrency: int,
                  timeout: float, rate: Optional[float], speed: Optional[float], as_json: bool,
                  quiet: bool, max_rows: int, print_json, stdout_may_close, report_console) -> int:
    """``replay --target``: the exit code (0 all match, 1 otherwise)."""
    import cardsim.api as api
    with rate_bar(quiet, "replay") as progress:
        result = api.replay_live(log, targets, keys_dir=keys, concurrency=concurrency,
                                 timeout=timeout, rate=rate, speed=speed, progress=progress,
                                 **filters)
    d = result.as_dict()
    with stdout_may_close():
        if as_json:
            print_json(d)
        else:
            render_target_replay(d, report_console(), max_rows)
    return 0 if result.ok else 1

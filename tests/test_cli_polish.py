from typer.testing import CliRunner

from cardsim import __version__
from cardsim.cli.app import app

runner = CliRunner()


def test_version_flag():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == __version__


def test_help_shows_flags_as_flags_and_keeps_brackets():
    r = runner.invoke(app, ["sweep", "--help"], terminal_width=100)
    assert r.exit_code == 0
    assert "<bool>" not in r.stdout and "--json " in r.stdout
    assert "cardsim[dask]" in r.stdout
    assert "--threshold METRIC<OP>N" in r.stdout


def test_shell_completion_is_offered():
    r = runner.invoke(app, ["--help"])
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


def test_text_reports_fit_80_columns_without_cutting(weekday_path):
    from rich.console import Console
    from cardsim.config.scenario import load
    from cardsim.model.simulation import Simulation
    from cardsim.reports.text import render_summary
    s = Simulation(load(weekday_path, sets=["simulation.duration_hours=2", "simulation.start_hour=8"],
                        scale=0.02)).run()
    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    render_summary(s, console)
    text = console.export_text()
    assert "…" not in text and all(len(line) <= 80 for line in text.splitlines())
    for name in ("government", "chongqing", "issuer-chongqing", "chongqing.scenic_gate"):
        assert name in text


def test_the_progress_bar_on_a_terminal_draws_before_and_after_the_total_is_known(monkeypatch):
    """On a terminal, the bar is drawn before the first update gives the total (it crashed
    there: a None total formatted as a number)."""
    import io
    import time

    from cardsim.cli.app import progress_bar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    for hours in (True, False):
        with progress_bar(False, "run weekday", hours=hours) as update:
            assert update is not None
            time.sleep(0.3)                    # the bar refreshes with no total yet
            update(3600.0 * 6, 3600.0 * 24)
            time.sleep(0.3)
    out = err.getvalue()
    assert "simulated h" in out and "6.0/24.0 simulated h" in out

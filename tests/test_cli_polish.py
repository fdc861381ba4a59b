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

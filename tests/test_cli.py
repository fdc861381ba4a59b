"""The command line, through Typer's CliRunner: outputs, exit codes and every error class."""

import json

import pytest
from typer.testing import CliRunner

from cardsim.cli.app import app

from conftest import QUICK

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def quick(weekday_path, *extra):
    args = ["run", weekday_path, "--scale", "0.05", "--quiet"]
    for s in QUICK:
        args += ["--set", s]
    return invoke(*args, *extra)


def test_help_for_every_command():
    r = invoke("--help")
    assert r.exit_code == 0 and "run" in r.output
    for cmd in ("run", "version"):
        r = invoke(cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.output


def test_run_json_is_alone_on_stdout(weekday_path, tmp_path):
    r = quick(weekday_path, "--json", "--out", tmp_path / "r.db")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    for key in ("transactions", "approved", "declined", "by_channel", "by_province", "waits",
                "utilisation", "clearing", "blacklist_exposure", "wall_seconds"):
        assert key in s
    assert (tmp_path / "r.db").exists()


def test_run_text_summary(weekday_path):
    r = quick(weekday_path)
    assert r.exit_code == 0
    for text in ("Transactions", "Waiting time", "Utilisation", "Cross-province clearing",
                 "Blacklist exposure"):
        assert text in r.stdout


@pytest.mark.parametrize("args,message", [
    (["run", "nope.toml"], "nope.toml: no such scenario file"),
    (["run", "{bad_toml}"], "invalid TOML"),
    (["run", "{unknown}"], "simulation.sed: unknown key (did you mean simulation.seed?)"),
    (["run", "{weekday}", "--set", "demand.transit.peak_per_hour=-1"],
     "--set demand.transit.peak_per_hour: must be >= 0, got -1"),
    (["run", "{weekday}", "--set", "nokey=1"], "--set nokey: unknown key"),
    (["run", "{weekday}", "--set", "oops"], "--set oops: expected key.path=value"),
    (["run", "{weekday}", "--scale", "-2"], "--scale: must be a number > 0"),
    (["run", "{weekday}", "--out", "{existing}"], "already exists; pass --force"),
    (["run", "{weekday}", "--out", "{tmp}/no/such/dir/x.db"], "does not exist"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, weekday_path, args, message):
    (tmp_path / "bad.toml").write_text("[simulation\n")
    (tmp_path / "unknown.toml").write_text("[simulation]\nsed = 1\n")
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")
    subs = {"{bad_toml}": tmp_path / "bad.toml", "{unknown}": tmp_path / "unknown.toml",
            "{weekday}": weekday_path, "{existing}": existing, "{tmp}": tmp_path}
    real = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, str(v))
        real.append(a)
    r = invoke(*real)
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cardsim: error: ") and message in lines[0]
    assert "Traceback" not in r.output
    assert existing.read_bytes() == b"keep me"


def test_version():
    r = invoke("version")
    assert r.exit_code == 0 and r.stdout.strip()

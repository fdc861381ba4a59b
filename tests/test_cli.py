"""The command line, through Typer's CliRunner: outputs, exit codes and every error class."""

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

import cardsim
from cardsim import api
from cardsim.cli.app import app
from cardsim.errors import CardsimError

from conftest import QUICK, ROOT

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], prog_name="cardsim")


def quick(weekday_path, *extra):
    args = ["run", weekday_path, "--scale", "0.05", "--quiet"]
    for s in QUICK:
        args += ["--set", s]
    return invoke(*args, *extra)


def commands(group=None, prefix=()):
    """Every command and subcommand path of the Typer app, read from the app itself."""
    group = group or typer.main.get_command(app)
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if hasattr(cmd, "commands"):     # a group (Typer vendors its own click)
            yield from commands(cmd, prefix + (name,))


def test_help_for_every_command():
    paths = sorted(commands())
    assert {("run",), ("retime",), ("keys",), ("keys", "init")} <= set(paths)
    top = invoke("--help")
    assert top.exit_code == 0
    for path in paths:
        if len(path) == 1:
            assert path[0] in top.output
        r = invoke(*path, "--help")
        assert r.exit_code == 0 and "Usage" in r.output and f"cardsim {' '.join(path)}" in r.output, path


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
    (["run", "{weekday}", "--set", "provinces.sichuan.metro.journeys_per_day=-1"],
     "--set provinces.sichuan.metro.journeys_per_day: must be >= 0, got -1"),
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

def test_a_refused_log_path_creates_no_keys(tmp_path, weekday_path):
    """Bad input writes nothing: a log path refused (exists, no --force; no such directory)
    leaves a keys directory that did not exist uncreated."""
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"keep me")
    for out in (existing, tmp_path / "missing" / "run.db"):
        keys = tmp_path / "fresh-keys"
        r = invoke("run", weekday_path, "--out", out, "--keys", keys, "--quiet")
        assert r.exit_code == 2, r.output
        assert not keys.exists()
    assert existing.read_bytes() == b"keep me"


def test_version():
    r = invoke("version")
    assert r.exit_code == 0 and r.stdout.strip()


@pytest.fixture(scope="module")
def small_log(tmp_path_factory, keys_dir):
    out = tmp_path_factory.mktemp("cli") / "w.db"
    sc = api.load_scenario(ROOT / "scenarios" / "weekday.toml", sets=QUICK, scale=0.05)
    api.run(sc, out, keys_dir=keys_dir, workers=2)
    return out


def one_error(r, message, code=2):
    assert r.exit_code == code and r.stdout == "", r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cardsim: error: ") and message in lines[0], r.stderr


def test_the_exit_code_is_the_errors_own(monkeypatch, weekday_path):
    class Unusual(CardsimError):
        exit_code = 5

    def boom(*_a, **_k):
        raise Unusual("x.toml: something unusual")
    monkeypatch.setattr(cardsim, "load_scenario", boom)
    one_error(invoke("run", weekday_path), "x.toml: something unusual", code=5)


@pytest.mark.parametrize("args,message", [
    (["--from", "100", "--to", "50"], "--from 100: must be before --to 50"),
    (["--set", "provinces.sichuan.metro.terminals=9"],
     "--set provinces.sichuan.metro.terminals: has no effect in replay"),
    (["--out", "x.db"], "--out: has no effect without --timing"),
    (["--timing", "--channel", "transit"], "--channel: has no effect with --timing"),
    (["--timing", "--set", "provinces.sichuan.scenic_gate.visitors_per_day=1"], "has no effect in retime"),
])
def test_replay_input_errors(small_log, keys_dir, args, message):
    one_error(invoke("replay", small_log, "--keys", keys_dir, *args), message)


def test_retime_evaluates_thresholds_and_exits_1_on_a_breach(small_log, keys_dir, tmp_path,
                                                            weekday_path):
    r = invoke("retime", small_log, "--json", "--quiet", "--workers", "1")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["thresholds"] == [] and s["trace"]["log"] == str(small_log)
    (tmp_path / "t.toml").write_text(weekday_path.read_text()
                                     + '\n[thresholds]\n"wait.gov_window.p95" = "< 0"\n')
    r = invoke("retime", small_log, "--scenario", tmp_path / "t.toml", "--quiet", "--workers", "1",
               "--out", tmp_path / "r.db", "--keys", keys_dir)
    assert r.exit_code == 1 and "FAIL" in r.stdout and "wait.gov_window.p95" in r.stdout
    assert f"log: {tmp_path / 'r.db'}" in r.stdout
    r = invoke("replay", small_log, "--timing", "--json", "--quiet", "--scenario", tmp_path / "t.toml")
    assert r.exit_code == 1 and json.loads(r.stdout)["thresholds"][0]["passed"] is False


def test_retime_with_encrypted_keys(small_log, tmp_path, monkeypatch):
    api.init_keys(tmp_path / "k", passphrase=b"pa55-long-enough")
    monkeypatch.setenv("CARDSIM_PASS", "pa55-long-enough")
    r = invoke("retime", small_log, "--quiet", "--workers", "1", "--out", tmp_path / "r.db",
               "--keys", tmp_path / "k", "--passphrase-env", "CARDSIM_PASS")
    assert r.exit_code == 0, r.output


def test_retime_passphrase_variable_must_be_set(small_log, tmp_path):
    one_error(invoke("retime", small_log, "--out", tmp_path / "s.db", "--keys", tmp_path / "k",
                     "--passphrase-env", "UNSET_VAR_X"), "--passphrase-env UNSET_VAR_X: environment")


def test_help_and_version_do_not_load_the_simulator():
    code = ("import sys; from cardsim.cli.app import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
            "CliRunner().invoke(app, ['version']); "
            "assert not {'cardsim.api', 'simpy', 'cryptography'} & set(sys.modules), sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)

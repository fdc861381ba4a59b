"""Every shell example in README.md and docs/ runs, in order, in a fresh directory, as written.

Each file's ``sh`` blocks are one session in its own temporary directory holding a copy of
scenarios/. Two changes keep the suite fast and self-contained, and nothing else is changed:
``run`` and ``sweep`` get ``--scale 0.05`` and two simulated hours appended (the last value of an
option wins), and a sweep's ``--scheduler ADDRESS`` is dropped (the same runs on local processes;
``tests/test_sweep.py`` runs a Dask cluster). The commands that set up a machine or a cluster are
named in :data:`NOT_RUN`, each with the reason; any other command must run, exit 0 or 1 (1: a
check that found something, e.g. a threshold or a divergence) and print no traceback.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

DOCS = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))

#: Commands the test does not run, and why.
NOT_RUN = {
    "make demo": "sets up .venv and runs a full-scale day: make's own target",
    "make test": "runs this suite",
    "python -m venv .venv": "creates the environment the suite runs in",
    ".venv/bin/pip install -e '.[dask]'": "installs into the environment the suite runs in",
    ".venv/bin/dask scheduler --port 8786": "a cluster's scheduler, on another machine",
    ".venv/bin/dask worker tcp://SCHEDULER_HOST:8786 --nworkers auto --nthreads 1": "a cluster's worker",
    '.venv/bin/cardsim serve issuer --province sichuan --log runs/weekday.db': 'a live node: it serves until stopped (tests/test_net_*.py start nodes)',
    '.venv/bin/cardsim replay runs/weekday.db --target issuer-sichuan=127.0.0.1:PORT': 'needs the live node above and its port',
    "cardsim serve issuer --province sichuan --log run.db --keys keys --listen 127.0.0.1:9101 '&'": "the live-node example (tests/test_net_*.py run it with real processes)",
    "cardsim serve issuer --province chongqing --log run.db --keys keys --listen 127.0.0.1:9102 '&'": "the live-node example (tests/test_net_*.py run it with real processes)",
    "cardsim serve hub --log run.db --keys keys --listen 127.0.0.1:9100 --route sichuan=127.0.0.1:9101 --route chongqing=127.0.0.1:9102 '&'": "the live-node example (tests/test_net_*.py run it with real processes)",
    'cardsim replay run.db --keys keys --target hub=127.0.0.1:9100 --concurrency 16 --json': "the live-node example (tests/test_net_*.py run it with real processes)",
    'kill %1 %2 %3': "the live-node example (tests/test_net_*.py run it with real processes)",
}
QUICK = ["--scale", "0.05", "--set", "simulation.duration_hours=2", "--set", "simulation.start_hour=8"]


def commands(text: str) -> list[list[str]]:
    """The commands of a file's ``sh`` blocks: continuation lines joined, ``&&`` split, comments
    dropped, each as its words."""
    out = []
    for block in re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split(" && "):
                words = shlex.split(part, comments=True)
                if words:
                    out.append(words)
    return out


def argv(words: list[str]) -> tuple[list[str], str | None]:
    """(the process to run, the file its stdout goes to)."""
    words, out = list(words), None
    if ">" in words:
        i = words.index(">")
        out, words = words[i + 1], words[:i]
    if words[0] in (".venv/bin/cardsim", "cardsim"):
        args = words[1:]
        if "--scheduler" in args:
            i = args.index("--scheduler")
            del args[i:i + 2]
        if args and args[0] in ("run", "sweep"):
            args += QUICK
        return [sys.executable, "-m", "cardsim", *args], out
    if words[:2] == [".venv/bin/python", "cli.py"]:
        return [sys.executable, str(ROOT / "cli.py"), *words[2:]], out
    raise AssertionError(f"not a command this test knows how to run: {shlex.join(words)}")


@pytest.mark.parametrize("doc", [d for d in DOCS if d != "docs/planning.md"])   # that one: below
def test_every_example_command_runs(doc, tmp_path):
    cmds = [c for c in commands((ROOT / doc).read_text(encoding="utf-8"))]
    if not cmds:
        return          # nothing to run (the generated references, architecture.md, ...)
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    for words in cmds:
        line = shlex.join(words)
        if line in NOT_RUN:
            continue
        if words[:2] == ["mkdir", "-p"]:
            (tmp_path / words[2]).mkdir(parents=True, exist_ok=True)
            continue
        cmd, out = argv(words)
        r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode in (0, 1), f"{doc}: {line}: exit {r.returncode}\n{r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr, f"{doc}: {line}\n{r.stderr[-2000:]}"
        if out:
            (tmp_path / out).write_text(r.stdout)


def test_the_worked_example_answers_with_a_verdict(tmp_path):
    """docs/planning.md's sweep, shrunk as above: its report leads with the verdict."""
    test_every_example_command_runs("docs/planning.md", tmp_path)
    page = (tmp_path / "runs" / "gates.html").read_text()
    assert re.search(r'data-verdict="(pass|fail)">Verdict: (smallest passing combination: '
                     r'provinces\.chongqing\.scenic_gate\.terminals=\d|no combination passes)', page)
    assert "wait.chongqing.scenic_gate.p95 &lt; 120 s" in page


def test_commands_not_run_are_still_in_the_docs():
    everything = {shlex.join(c) for d in DOCS for c in commands((ROOT / d).read_text(encoding="utf-8"))}
    assert set(NOT_RUN) <= everything, set(NOT_RUN) - everything

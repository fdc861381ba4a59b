"""Reports: self-contained HTML, every chart present; rendered in a real headless browser."""

import json
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.reports.html import write_report
from cardsim.config.scenario import load
from cardsim.planning.sweep import plan, run_sweep

from conftest import ROOT

runner = CliRunner()
CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser",
                                                         "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def run_html(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("report")
    sc = load(ROOT / "scenarios" / "issuer-outage.toml", scale=0.1,
              sets=["simulation.duration_hours=10",
                    "provinces.sichuan.issuer.standin_limit_fen=6000"],   # some tickets above it
              thresholds=["wait.chongqing.metro.peak.p95<60", "decline_rate.transit<0.000001"])
    api.run(sc, out=d / "r.db", keys_dir=keys_dir)
    return write_report(d / "r.db", d / "r.html")


@pytest.fixture(scope="module")
def sweep_html(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    p = plan(ROOT / "scenarios" / "weekday.toml", 2,
             ["provinces.sichuan.gov_window.terminals=1,2,6", "simulation.duration_hours=3",
              "simulation.start_hour=8"], scale=0.2,
             thresholds=("wait.sichuan.gov_window.p95<300",), metrics=("balked.sichuan.gov_window.peak",))
    (d / "s.json").write_text(json.dumps(run_sweep(p, workers=1)))
    return write_report(d / "s.json", d / "s.html")


def offline(page: str) -> bool:
    """No resource is fetched: no src/href to anything, no url() (SVG namespaces are names)."""
    return not re.search(r'(src|href)\s*=\s*["\'](?!#)', page) and "url(" not in page.replace("url(#", "")


def test_run_report_is_self_contained(run_html):
    page = run_html.read_text()
    assert page.count('<figure class="chart"') == 6 and page.count("<svg") >= 6
    assert offline(page)
    for title in ("Throughput per hour", "Waiting time percentiles", "Utilisation over time",
                  "Declines by reason", "Cross-province flows", "Blacklist exposure"):
        assert title in page
    assert "standin_limit" in page                     # the outage's declines are charted


def test_run_report_shows_thresholds_overrides_and_provinces(run_html):
    page = run_html.read_text()
    assert "--set simulation.duration_hours=10" in page and "scale 0.1" in page
    table = re.search(r'<table data-thresholds="(\d+)">(.*?)</table>', page, re.S)
    assert table and int(table.group(1)) == 2
    assert 'class="pass">pass' in table.group(2) and 'class="fail">FAIL' in table.group(2)
    assert all(f'data-province="{p}"' in page for p in ("sichuan", "chongqing"))
    for unit in ("transactions / h", "wait (s)", "busy share of capacity", "clock hour", "yuan"):
        assert unit in page, unit


def test_sweep_report(sweep_html):
    page = sweep_html.read_text()
    assert offline(page) and "95% CI" in page
    verdict = re.search(r'<p class="verdict (pass|fail)" data-verdict="\1">Verdict: (.*?)</p>', page)
    assert verdict and verdict.group(2).startswith(("smallest passing combination: provinces.sichuan.gov_window.terminals=",
                                                    "no combination passes"))
    assert page.index("Verdict:") < page.index("<figure")                 # the verdict comes first
    assert "wait.sichuan.gov_window.p95 &lt; 300 s (tested on the upper bound)" in page
    assert "Wait, utilisation and balks of the swept resource" in page
    assert "seconds" in page and "share busy" in page and "transactions / h" in page
    assert "Zero in every combination" in page and "e+0" not in page.split("<svg")[0]
    assert page.count('<figure class="chart"') >= 2


def test_sweep_text_names_combinations_and_fits_80_columns(sweep_html):
    from rich.console import Console
    from cardsim.reports.text import render_sweep
    result = json.loads(sweep_html.with_suffix(".json").read_text())
    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    render_sweep(result, console)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert text.splitlines()[2].startswith("verdict: ") or "verdict: " in text
    for i, c in enumerate(result["combinations"]):
        assert f"#{i + 1}  provinces.sichuan.gov_window.terminals={c['set']['provinces.sichuan.gov_window.terminals']}" in text
    assert "(s)" in text and "zero in every combination" in text


def test_cli_report_errors(tmp_path):
    r = runner.invoke(app, ["report", str(tmp_path / "none.db")])
    assert r.exit_code == 2 and "no such log file" in r.stderr
    (tmp_path / "x.json").write_text("{}")
    r = runner.invoke(app, ["report", str(tmp_path / "x.json")])
    assert r.exit_code == 2 and "not a sweep result" in r.stderr


def render(html_path, tmp_path):
    if CHROMIUM is None:       # a failure under CARDSIM_REQUIRE_ALL=1 (conftest.py), as in CI
        pytest.skip("no chromium on this machine (.ci/run installs it)")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,5000",
             "--virtual-time-budget=3000"]
    dom = subprocess.run(flags + ["--dump-dom", html_path.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    png = tmp_path / "shot.png"
    subprocess.run(flags + [f"--screenshot={png}", html_path.as_uri()], capture_output=True, timeout=120)
    return dom, png


@pytest.mark.parametrize("which", ["run_html", "sweep_html"])
def test_rendered_in_headless_chromium(which, request, tmp_path):
    html_path = request.getfixturevalue(which)
    dom, png = render(html_path, tmp_path)
    body = re.search(r"<body([^>]*)>", dom).group(1)
    charts = int(re.search(r'data-charts="(\d+)"', body).group(1))
    visible = int(re.search(r'data-visible="(\d+)"', body).group(1))
    assert charts >= 2 and visible == charts                          # every chart present and visible
    assert ("Verdict:" in dom) == (which == "sweep_html") and "Thresholds" in dom
    assert re.search(r'data-errors="0"', body)                        # no script error
    assert dom.count('data-rendered="no"') == 0
    import matplotlib.image as mpimg
    img = mpimg.imread(png)
    assert img.shape[0] > 1000 and img.std() > 0.05                   # a real picture, not blank


def test_a_malformed_sweep_result_is_one_line(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "cardsim-sweep", "combinations": [{"set": 1}]}))
    r = runner.invoke(app, ["report", str(tmp_path / "bad.json")])
    assert r.exit_code == 2 and "not a sweep result" in r.stderr and "Traceback" not in r.output

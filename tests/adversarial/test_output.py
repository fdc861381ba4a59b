"""What verify, replay and report print is never the log's to style (issue 11): text from a log is
inert in the terminal and in the HTML report, the report says which figures are the log owner's
unverified word, exit codes do not depend on --workers or on stdout closing early, every check
reads the same loss reports, and --speed cannot be made to wait without bound.

Every attack here is an outsider's (no key): an edit of the file, its name, or a swap of the file
while it is verified."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.audit import replay as R
from cardsim.audit.verify import coordinator, verify
from cardsim.cli.app import app
from cardsim.config.scenario import load
from cardsim.errors import CardsimError
from cardsim.reports import html as H
from cardsim.reports.text import inert, markup

from adversarial.support import edit, one
from conftest import ROOT

runner = CliRunner()
#: Rich markup, a terminal control sequence (clear screen), markup for a browser, a bidi override.
PAYLOAD = "[red]x[/red][link=http://e.test]y[/link]\x1b[2J\r\b<script>alert(1)</script>\u202e"
INERT = inert(PAYLOAD)
WIDE = {"COLUMNS": "400"}      # rich wraps table cells at the terminal's width


@pytest.fixture(scope="module")
def revoked_log(tmp_path_factory, keys_dir):
    """A signed log in which cards reported lost are approved offline after the blacklist reached
    the terminal (the run's attacker): verify's revocation check must catch each of them."""
    d = tmp_path_factory.mktemp("output")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
              sets=["simulation.duration_hours=3", "simulation.start_hour=7",
                    "provinces.sichuan.lost_per_day=3000", "provinces.chongqing.lost_per_day=3000",
                    "attacks.revoked_card_uses=4"])
    api.run(sc, out=d / "revoked.db", keys_dir=keys_dir, workers=1)
    return d / "revoked.db"


@pytest.fixture(scope="module")
def clean_log(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("output-clean")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
              sets=["simulation.duration_hours=2", "simulation.start_hour=7",
                    # low balances: some taps are declined (reports show declines by reason)
                    "provinces.sichuan.balance_min_fen=0", "provinces.sichuan.balance_max_fen=600"])
    api.run(sc, out=d / "clean.db", keys_dir=keys_dir, workers=1)
    return d / "clean.db"


@pytest.fixture
def log(clean_log, tmp_path):
    p = tmp_path / "log.db"
    shutil.copy(clean_log, p)
    return p


def assert_inert(text: str) -> None:
    """No control character from the log reached the output; the payload shows as text."""
    assert "\x1b" not in text and "\r" not in text and "\b" not in text and "\u202e" not in text
    assert "Traceback" not in text


# --- text output --------------------------------------------------------------------------------

def test_inert_and_markup_escape_what_a_terminal_would_act_on():
    assert inert("plain 成都 text") == "plain 成都 text"
    assert inert("\x1b[2J\r\b\u202e\udcff") == "\\x1b[2J\\r\\x08\\u202e\\udcff"
    assert markup("[red]x[/red]") == "\\[red]x\\[/red]"


def test_verify_text_shows_log_text_inert(log, keys_dir):
    """An outsider writes the payload into a record's tx_id and an upload's terminal id: both are
    findings (the record hash, the upload), printed as text, never as markup or controls."""
    edit(log, "UPDATE transactions SET tx_id = ? WHERE seq = 3", PAYLOAD)
    edit(log, "UPDATE uploads SET terminal_id = ? WHERE upload = (SELECT max(upload) FROM uploads)",
         PAYLOAD)
    r = runner.invoke(app, ["verify", str(log), "--keys", str(keys_dir), "--workers", "1",
                            "--quiet", "--max-findings", "100"], env=WIDE)
    assert r.exit_code == 1, r.output
    assert "record_hash_mismatch" in r.output and "no_records:" in r.output
    assert_inert(r.output)
    assert r.output.count(INERT) >= 2      # the tx_id cell and the upload finding, as text


def test_replay_text_shows_the_scenario_name_inert(log, keys_dir):
    edit(log, "UPDATE runs SET scenario_name = ?", PAYLOAD)
    r = runner.invoke(app, ["replay", str(log), "--keys", str(keys_dir), "--limit", "20",
                            "--no-signatures", "--quiet"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert f"under {INERT}" in r.output


def test_a_file_name_is_inert_in_reports_and_errors(log, keys_dir, tmp_path):
    named = tmp_path / "[bold]x[red]\x1b[2J.db"       # no "/" in a file name
    shutil.copy(log, named)
    r = runner.invoke(app, ["verify", str(named), "--keys", str(keys_dir), "--workers", "1",
                            "--quiet"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert inert(named) in r.output
    missing = runner.invoke(app, ["verify", str(tmp_path / "\x1b[2Jnone.db"), "--keys",
                                  str(keys_dir), "--quiet"])
    assert missing.exit_code == 2
    assert_inert(missing.stderr)
    assert "\\x1b[2Jnone.db" in missing.stderr


# --- HTML report --------------------------------------------------------------------------------

class _Elements(HTMLParser):
    """Every element's tag, and the text inside each script element."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def elements(page: str) -> _Elements:
    p = _Elements()
    p.feed(page)
    p.close()
    return p


def poison_summary(path, **changes):
    s = json.loads(one(path, "SELECT summary_json FROM runs")[0])
    for change in changes.values():
        change(s)
    edit(path, "UPDATE runs SET summary_json = ?", json.dumps(s))


def test_html_report_escapes_every_text_from_the_log(log, tmp_path):
    """Scenario name, a decline reason and a metrics key of the payload (and mathtext): the only
    script element in the page is the report's own."""
    def scenario(s):
        s["scenario"] = PAYLOAD

    def reasons(s):
        s["declined_by_reason"][PAYLOAD] = 0

    poison_summary(log, scenario=scenario, reasons=reasons)
    edit(log, "INSERT INTO metrics VALUES (0, 'transactions', ?, 1.0)", PAYLOAD + "$\\frac{1}{$")
    edit(log, "UPDATE transactions SET reason = ? WHERE seq = (SELECT min(seq) FROM transactions "
              "WHERE outcome = 'declined')", PAYLOAD)
    page = H.write_report(log, tmp_path / "r.html").read_text()
    found = elements(page)
    assert found.scripts == [H._CHECK.removeprefix("<script>").removesuffix("</script>")]
    assert "\x1b" not in page and "alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_html_report_labels_the_unverified_summary_and_warns_of_mismatches(log, tmp_path):
    """The log owner edits the summary (unsigned): the report recounts from the records and
    says where the summary disagrees."""
    clean = H.write_report(log, tmp_path / "clean.html").read_text()
    assert 'class="warning"' not in clean
    assert 'data-figures="records"' in clean and 'data-figures="summary"' in clean
    assert "Unverified" in clean
    real = json.loads(one(log, "SELECT summary_json FROM runs")[0])["by_channel"]["transit"]

    def inflate(s):
        s["by_channel"]["transit"]["transactions"] += 500
        s["declined_by_reason"] = {}

    poison_summary(log, inflate=inflate)
    page = H.write_report(log, tmp_path / "edited.html").read_text()
    assert (f"channel transit, transactions: the summary says {real['transactions'] + 500}, the "
            f"records give {real['transactions']}") in page
    assert page.count('class="warning"') >= 2     # the channel and each decline reason
    r = runner.invoke(app, ["report", str(log), "-o", str(tmp_path / "cli.html")])
    assert r.exit_code == 0 and "unverified" in r.output


@pytest.mark.parametrize("summary", ['{"scenario": 1}', '[1, 2]', '{"scenario": "x", "seed": "s", '
                                     '"scale": "not a number"}'])
def test_html_report_of_a_summary_that_is_not_one_is_exit_2(log, tmp_path, summary):
    edit(log, "UPDATE runs SET summary_json = ?", summary)
    r = runner.invoke(app, ["report", str(log), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 2, r.output
    assert "runs.summary_json" in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


# --- exit codes: --workers, a closed stdout -------------------------------------------------------

def test_the_json_report_is_the_same_for_any_workers(revoked_log, keys_dir, tmp_path):
    p = tmp_path / "t.db"
    shutil.copy(revoked_log, p)
    edit(p, "UPDATE transactions SET amount_fen = amount_fen + 1 WHERE seq % 97 = 0")
    outs = []
    for w in ("1", "2", "3"):
        r = runner.invoke(app, ["verify", str(p), "--keys", str(keys_dir), "--workers", w,
                                "--json", "--quiet"])
        assert r.exit_code == 1, r.output
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert json.loads(outs[0])["checks"]["revocation"]["failed"] >= 1


@pytest.mark.parametrize("as_json", [False, True])
def test_a_reader_that_closes_stdout_early_does_not_change_the_exit_code(clean_log, keys_dir,
                                                                         as_json):
    """`cardsim verify x.db | head -1` of an intact log exits 0: here the reader is gone before
    anything is written, so every write meets a closed pipe."""
    cmd = [sys.executable, "-m", "cardsim.cli", "verify", str(clean_log), "--keys", str(keys_dir),
           "--workers", "1", "--quiet"] + (["--json"] if as_json else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "Broken" not in err and "Exception" not in err


def test_verify_piped_to_head(clean_log, keys_dir):
    cli = f"{sys.executable} -m cardsim.cli"
    r = subprocess.run(["bash", "-c", f'{cli} verify "$1" --keys "$2" --workers 1 --quiet | head -1;'
                        ' exit "${PIPESTATUS[0]}"', "-", str(clean_log), str(keys_dir)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1 and "Traceback" not in r.stderr


# --- every check reads the same loss reports ----------------------------------------------------

def test_a_file_swapped_after_the_blacklist_check_does_not_hide_a_revocation(revoked_log, keys_dir,
                                                                              tmp_path, monkeypatch):
    """The outsider replaces the log, once its loss reports have passed the issuers' signatures,
    with a copy that has none. Workers that read the table themselves saw no loss report and
    passed every approval of a lost card; they are handed the coordinator's rows instead."""
    p, gutted = tmp_path / "log.db", tmp_path / "gutted.db"
    shutil.copy(revoked_log, p)
    shutil.copy(revoked_log, gutted)
    edit(gutted, "DELETE FROM blacklist")
    assert verify(p, keys_dir, workers=1).failed["revocation"] >= 1
    real_pool = coordinator.ShardedPool

    def swap_then_pool(*args, **kwargs):
        os.replace(gutted, p)
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(coordinator, "ShardedPool", swap_then_pool)
    r = runner.invoke(app, ["verify", str(p), "--keys", str(keys_dir), "--workers", "1", "--json",
                            "--quiet"])
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert out["checks"]["blacklist"] == {"passed": 2, "failed": 0}
    assert {f["reason"] for f in out["findings"]} == {"approved_after_blacklist"}


@pytest.mark.parametrize("row", [("510100000001", "sichuan", "noon"),
                                 ("510100000001", "tibet", 100.0),
                                 (b"510100000001", "sichuan", 100.0)])
def test_a_malformed_loss_report_is_one_finding_and_no_check_uses_it(revoked_log, keys_dir,
                                                                     tmp_path, row):
    p = tmp_path / "log.db"
    shutil.copy(revoked_log, p)
    before = verify(p, keys_dir, workers=1)
    edit(p, "INSERT OR REPLACE INTO blacklist VALUES (?, ?, ?)", *row)
    r = runner.invoke(app, ["verify", str(p), "--keys", str(keys_dir), "--workers", "2", "--json",
                            "--quiet"])
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert [f["reason"].split(":")[0] for f in out["findings"] if f["check"] == "blacklist"] == \
        ["malformed_report"]
    assert out["checks"]["revocation"]["failed"] == before.failed["revocation"]


# --- replay --speed ---------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept += s
        self.now += s


def test_speed_waits_are_bounded_by_the_span_whatever_the_times():
    c = FakeClock()
    pace = R.pacer(10.0, 3600.0, R.Filters(), clock=c.clock, sleep=c.sleep)
    for t in (0.0, 100.0, 1e12, 2e12, float("nan"), float("inf"), "noon", -1e12, 3600.0):
        pace.wait(t)
    assert c.slept == pytest.approx(360.0)       # the hour at 10x, not 1e11 s


@pytest.mark.parametrize("speed,message", [(1e-6, "would take"), (0.0, "positive"),
                                           (float("nan"), "positive")])
def test_absurd_speeds_are_refused(speed, message):
    with pytest.raises(CardsimError, match=message):
        R.pacer(speed, 86400.0, R.Filters())
    assert R.pacer(1e-6, 86400.0, R.Filters(time_from=3600.0, time_to=3600.1)) is not None


def test_cli_refuses_a_speed_that_would_wait_for_years(clean_log, keys_dir):
    r = runner.invoke(app, ["replay", str(clean_log), "--keys", str(keys_dir), "--speed", "0.00001",
                            "--quiet"])
    assert r.exit_code == 2 and "--speed" in r.stderr and "would take" in r.stderr


def test_diff_out_cells_never_start_a_formula(tmp_path, keys_dir):
    """An outsider puts a spreadsheet formula into a tx_id; the divergence CSV shows it as text."""
    import csv as _csv
    import sqlite3 as _sqlite3
    from cardsim import api as _api
    from cardsim.config.scenario import load as _load
    from conftest import ROOT as _ROOT
    log = tmp_path / "f.db"
    _api.run(_load(_ROOT / "scenarios" / "weekday.toml", scale=0.01,
                   sets=["simulation.duration_hours=1", "simulation.start_hour=8"]),
             log, keys_dir=keys_dir, workers=1)
    con = _sqlite3.connect(log)
    con.execute("UPDATE transactions SET tx_id = '=HYPERLINK(\"http://x\")', amount_fen = amount_fen + 1 "
                "WHERE seq = 3")
    con.commit()
    con.close()
    out = tmp_path / "d.csv"
    (tmp_path / "d.csv.partial").symlink_to(tmp_path / "elsewhere")
    r = _api.replay(log, keys_dir=keys_dir, diff_out=out, workers=1)
    assert r.diverged >= 1 and not (tmp_path / "elsewhere").exists()
    cells = [c for row in _csv.reader(out.open(encoding="utf-8")) for c in row]
    assert "'=HYPERLINK(\"http://x\")" in cells and not any(c.startswith("=") for c in cells)

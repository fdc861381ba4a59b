import csv
import sqlite3

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.audit.divergences import DiffWriter
from cardsim.audit.pacing import Pace, duration_text, warn_long_pace
from cardsim.audit.replay import Filters
from cardsim.cli.app import app

from conftest import QUICK, ROOT

runner = CliRunner()
FARE = "provinces.chongqing.bus.flat_fare_fen=300"


@pytest.fixture(scope="module")
def log(tmp_path_factory, keys_dir):
    out = tmp_path_factory.mktemp("div") / "w.db"
    api.run(api.load_scenario(ROOT / "scenarios" / "weekday.toml", sets=QUICK, scale=0.05), out,
            keys_dir=keys_dir, workers=2)
    return out


def test_diff_out_names_each_record_and_refuses_to_overwrite(log, keys_dir, tmp_path):
    out = tmp_path / "d.csv"
    r = api.replay(log, sets=[FARE], keys_dir=keys_dir, diff_out=out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == r.diverged > 0
    for col in ("card_id", "terminal_id", "sim_time", "service", "amount_fen", "channel"):
        assert all(row[col] for row in rows), col
    assert "bus" in {row["service"] for row in rows}
    tag = {"sichuan": "SC-", "chongqing": "CQ-"}
    assert all(row["terminal_id"].startswith(tag[row["terminal_province"]]) for row in rows)
    assert sum(row["terminal_province"] == "chongqing" for row in rows) > len(rows) / 2
    res = runner.invoke(app, ["replay", str(log), "--keys", str(keys_dir), "--set", FARE, "--diff-out", str(out), "-q"])
    assert res.exit_code == 2 and "exists (use --force to replace it)" in res.stderr
    res = runner.invoke(app, ["replay", str(log), "--keys", str(keys_dir), "--set", FARE, "--diff-out", str(out),
                              "--force", "-q"])
    assert res.exit_code == 1 and len(list(csv.DictReader(out.open()))) == r.diverged


def test_revenue_change_per_province_and_channel(log, keys_dir):
    out = api.replay(log, sets=[FARE], keys_dir=keys_dir).as_dict()
    rc = out["revenue_change_yuan"]
    expected = sum(d["replayed"]["charged_fen"] - d["recorded"]["charged_fen"] for d in out["divergences"]) / 100
    by = {}
    for d in out["divergences"]:
        key = (d["terminal_province"], d["channel"])
        by[key] = by.get(key, 0) + d["replayed"]["charged_fen"] - d["recorded"]["charged_fen"]
    for (p, c), fen in by.items():
        assert rc[p][c] == pytest.approx(fen / 100)
    assert rc["total"] == pytest.approx(expected) and expected != 0
    assert rc["chongqing"]["transit"] > 0                    # a dearer bus fare
    res = runner.invoke(app, ["replay", str(log), "--keys", str(keys_dir), "--set", FARE, "-q"], terminal_width=80)
    assert "Revenue change, replayed minus recorded (yuan)" in res.stdout and f"{expected:+,.2f}" in res.stdout


def test_card_story(log, keys_dir):
    con = sqlite3.connect(log)
    card, n = con.execute("SELECT card_id, count(*) FROM transactions GROUP BY card_id "
                          "ORDER BY count(*) DESC LIMIT 1").fetchone()
    out = api.replay(log, keys_dir=keys_dir, card=card).as_dict()
    story = out["card_story"]
    assert len(story) == n and all(e["card_id"] == card and e["same"] for e in story)
    assert [e["seq"] for e in story] == sorted(e["seq"] for e in story)
    res = runner.invoke(app, ["replay", str(log), "--keys", str(keys_dir), "--card", card, "-q"], terminal_width=80)
    assert f"The card's story: {n:,} records" in res.stdout and "same" in res.stdout


class _Conn:
    def __init__(self, times):
        self.times = times

    def execute(self, _sql, args):
        k = args[0]
        return type("C", (), {"fetchone": lambda s: (self.times[k],) if k < len(self.times) else None})()


def test_a_long_paced_replay_says_how_long_first():
    heard = []
    pace = Pace(2.0, 0.0, 86400.0)
    warn_long_pace(_Conn([10.0, 20.0, 250.0]), pace, Filters(limit=3), heard.append)
    assert heard == ["--speed 2: this replay will take about 2 min 00 s (240 simulated seconds paced); "
                     "a higher --speed or a smaller --limit is quicker"]
    warn_long_pace(_Conn([10.0, 20.0, 100.0]), pace, Filters(limit=3), heard.append)
    assert len(heard) == 1                                     # 45 s: nothing to say
    warn_long_pace(_Conn([]), pace, Filters(channel="transit", limit=3), heard.append)
    assert "up to 12 h 00 min" in heard[-1]
    assert duration_text(59.6) == "1 min 00 s"

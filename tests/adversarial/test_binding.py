"""Every signature is bound to its log and period, and the card signs what a transaction means
(issue 11). Each test mounts an attack as the stated role would: an outsider pastes signed pieces
of another run into a log (no key); the hub, the log's owner, colluding with merchants (their keys
from the keys directory, nothing else) rewrites decisions, re-signs what those keys can sign and
re-chains the log. Verify must exit 1 and name the reason."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.config.scenario import from_config_json, load
from cardsim.log.chain import Chain
from cardsim.records import encoding as E
from cardsim.records.record import COLUMN_NAMES, INDEX
from cardsim.signing.keys import HUB, KeyRing, merchant_ids, merchant_name, terminal_keys

from conftest import ROOT

runner = CliRunner()
SETS = ["simulation.start_hour=7", "provinces.sichuan.issuer.outages=[[1.5, 2.5]]",
        "provinces.sichuan.lost_per_day=3000", "provinces.chongqing.lost_per_day=3000",
        # low balances: some taps are declined offline (the collusion tests turn one round)
        *(f"provinces.{p}.balance_{m}_fen={v}" for p in ("sichuan", "chongqing")
          for m, v in (("min", 0), ("max", 600)))]


def _run(d: Path, name: str, hours: int, keys_dir) -> Path:
    sc = load(ROOT / "scenarios" / "issuer-outage.toml", scale=0.02,
              sets=[f"simulation.duration_hours={hours}"] + SETS)
    api.run(sc, out=d / name, keys_dir=keys_dir, workers=1)
    return d / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory, keys_dir):
    """Two runs of the same scenario and seed with the same keys: two hours, and one hour."""
    d = tmp_path_factory.mktemp("binding")
    return _run(d, "long.db", 2, keys_dir), _run(d, "short.db", 1, keys_dir)


@pytest.fixture
def log(runs, tmp_path):
    p = tmp_path / "log.db"
    shutil.copy(runs[0], p)
    return p


def verify_cli(path, keys_dir) -> tuple[int, list[tuple[str, str]]]:
    """verify's exit code and its findings as (check, reason)."""
    r = runner.invoke(app, ["verify", str(path), "--keys", str(keys_dir), "--workers", "1", "--json"])
    assert "Traceback" not in r.output
    report = json.loads(r.stdout)
    return r.exit_code, [(f["check"], f["reason"]) for f in report["findings"]]


def rows_of(path, table: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        con.close()


def replace_table(path, table: str, rows: list[tuple]) -> None:
    con = sqlite3.connect(path)
    with con:
        con.execute(f"DELETE FROM {table}")
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows)
    con.close()


# --- an outsider with two logs and no key -------------------------------------------------------

def test_the_clean_logs_verify(runs, keys_dir):
    for p in runs:
        assert verify_cli(p, keys_dir) == (0, [])


@pytest.mark.parametrize("tables,check", [(("merchant_totals",), "merchant_totals"),
                                          (("blacklist", "blacklist_signatures"), "blacklist"),
                                          (("checkpoints",), "checkpoints")])
def test_signed_lists_pasted_from_a_shorter_run(runs, log, keys_dir, tables, check):
    """The short run's merchant totals, loss reports with their issuers' lists, or checkpoints
    pasted whole into the long run (hiding the second hour's loss reports from the revocation
    check, say). An idle merchant's totals were the same bytes in every run, and the short run's
    loss reports with their signed lists fitted any run; now each list names its log and period."""
    if check == "merchant_totals":   # the same content, but for the binding: only that can fail
        same = ({r[:-1] for r in rows_of(log, tables[0])}
                & {r[:-1] for r in rows_of(runs[1], tables[0])})
        assert same, "no piece with the same content in both runs"
    for table in tables:
        replace_table(log, table, rows_of(runs[1], table))
    code, found = verify_cli(log, keys_dir)
    assert code == 1
    assert found and all(c in (check, "checkpoints") for c, _ in found)
    assert any(c == check and r.startswith("bad_signature:") for c, r in found)


def test_uploads_pasted_from_a_shorter_run(runs, log, keys_dir):
    """Uploads of the first hour vouch for the same records in both runs (a record's hash does not
    depend on the chain): the short run's signatures pasted over the long run's fail, as they name
    another log."""
    short = {r[1:-1]: r[-1] for r in rows_of(runs[1], "uploads")}
    long_rows = rows_of(log, "uploads")
    pasted = [r[:-1] + (short[r[1:-1]],) for r in long_rows if r[1:-1] in short]
    assert pasted, "no upload with the same content in both runs"
    con = sqlite3.connect(log)
    with con:
        con.executemany("UPDATE uploads SET signature = ? WHERE upload = ?",
                        [(r[-1], r[0]) for r in pasted])
    con.close()
    code, found = verify_cli(log, keys_dir)
    assert code == 1
    assert {c for c, _ in found} == {"uploads"}
    assert len(found) == len(pasted) and all(r.startswith("bad_signature:") for _, r in found)


# --- the hub (the log's owner) with merchants' keys ---------------------------------------------

class Collusion:
    """The hub and some merchants: re-chain the log and re-sign its checkpoints (hub), re-sign the
    uploads and totals of those merchants' terminals (merchants). Nothing else is signed again."""

    def __init__(self, path, keys_dir, merchants: list[str]):
        self.path, self.merchants = path, merchants
        self.ring = KeyRing.load(keys_dir, names=[HUB] + [merchant_name(m) for m in merchants])
        self.alg = self.ring.algorithm
        con = sqlite3.connect(path)
        self.config_json, self.seed = con.execute("SELECT config_json, seed FROM runs").fetchone()
        self.rows = [list(r) for r in con.execute("SELECT * FROM transactions ORDER BY seq")]
        self.every = con.execute("SELECT min(count) FROM checkpoints").fetchone()[0]
        self.end = con.execute("SELECT sim_time FROM checkpoints WHERE final = 1").fetchone()[0]
        con.close()

    def row(self, where) -> list:
        """The first record for which ``where(record as a dict)`` holds."""
        return next(r for r in self.rows if where(dict(zip(COLUMN_NAMES, r))))

    def commit(self) -> None:
        log_id = E.genesis_hash(self.config_json, self.seed)
        hub = self.alg.signing_key(self.ring.private[HUB])
        chain = Chain(log_id, self.every, lambda m: self.alg.sign(hub, m))
        chained = chain.extend([tuple(r[:-2]) for r in self.rows])
        checkpoints = chain.take() + [chain.checkpoint(self.end, final=1)]
        con = sqlite3.connect(self.path)
        with con:
            con.execute("UPDATE runs SET config_json = ?", (self.config_json,))
            con.execute("DELETE FROM transactions")
            con.executemany(f"INSERT INTO transactions VALUES ({','.join('?' * len(COLUMN_NAMES))})",
                            chained)
            con.execute("DELETE FROM checkpoints")
            con.executemany("INSERT INTO checkpoints VALUES (?,?,?,?,?,?,?,?)", checkpoints)
            con.execute("DELETE FROM tree_blocks")          # the tree's stored block roots too
            con.executemany("INSERT INTO tree_blocks VALUES (?,?)", chain.take_blocks())
            self._uploads(con, chained, log_id)
        con.close()

    def _uploads(self, con, chained: list[tuple], log_id: bytes) -> None:
        batches: dict[tuple, list] = {}
        for r in chained:
            batches.setdefault((r[INDEX["terminal_id"]], r[INDEX["uploaded_at"]]), []).append(r[-1])
        period = float(from_config_json(self.config_json, "log").duration_s)
        for m in self.merchants:
            keys = terminal_keys(self.ring, m)
            for up, tid, _m, number, at, _count, _digest, _sig in con.execute(
                    "SELECT * FROM uploads WHERE merchant_id = ?", (m,)).fetchall():
                hashes = batches.get((tid, at), [])
                digest = E.records_digest(hashes)
                sig = self.alg.sign(keys.get(tid)[0], E.upload_message(
                    log_id, tid, m, number, at, len(hashes), digest))
                con.execute("UPDATE uploads SET count = ?, records_digest = ?, signature = ? "
                            "WHERE upload = ?", (len(hashes), digest, sig, up))
            _m, terms, ups, recs, tdigest, _sig = con.execute(
                "SELECT * FROM merchant_totals WHERE merchant_id = ?", (m,)).fetchone()
            key = self.alg.signing_key(self.ring.private[merchant_name(m)])
            sig = self.alg.sign(key, E.merchant_totals_message(log_id, period, m, terms, ups, recs,
                                                               tdigest))
            con.execute("UPDATE merchant_totals SET signature = ? WHERE merchant_id = ?", (sig, m))


def set_columns(row: list, **values) -> None:
    for name, v in values.items():
        row[INDEX[name]] = v


def test_the_collusion_tool_leaves_an_untouched_log_valid(log, keys_dir):
    """The rewriting itself is sound: re-signing without an edit gives a log that verifies."""
    Collusion(log, keys_dir, merchant_ids()).commit()
    assert verify_cli(log, keys_dir) == (0, [])


def test_merchant_and_hub_turn_an_offline_decline_into_an_approval(log, keys_dir):
    """The terminal declined (the card's stored value did not cover the fare, or the card was on
    the blacklist); its merchant and the hub log an approval. The card signed an AAC."""
    c = Collusion(log, keys_dir, [])
    row = c.row(lambda r: r["mode"] == "offline" and r["outcome"] == "declined")
    c.merchants = [row[INDEX["merchant_id"]]]
    c.ring = KeyRing.load(keys_dir, names=[HUB, merchant_name(c.merchants[0])])
    set_columns(row, outcome="approved", reason=None)
    c.commit()
    code, found = verify_cli(log, keys_dir)
    assert code == 1 and found == [("card_signature", "invalid")]


@pytest.mark.parametrize("authoriser", ["issuer", "standin"])
def test_merchant_and_hub_turn_an_online_answer_into_a_terminal_timeout(log, keys_dir, authoriser):
    """The issuer (or the stand-in) answered; the merchant and the hub drop its signed answer and
    log a time-out of the terminal. The card signed the outcome over the hash of that answer."""
    c = Collusion(log, keys_dir, [])
    row = c.row(lambda r: r["authoriser"] == authoriser)
    c.merchants = [row[INDEX["merchant_id"]]]
    c.ring = KeyRing.load(keys_dir, names=[HUB, merchant_name(c.merchants[0])])
    set_columns(row, authoriser="terminal", outcome="declined", reason="issuer_timeout",
                issuer_sig=None, decided_at=row[INDEX["sim_time"]])
    c.commit()
    code, found = verify_cli(log, keys_dir)
    assert code == 1 and found == [("card_signature", "invalid")]


@pytest.mark.parametrize("column,value,reason", [
    ("card_province", "chongqing", "card_province"),
    ("terminal_province", "chongqing", "terminal_merchant")])
def test_merchant_and_hub_edit_what_no_card_signs(log, keys_dir, column, value, reason):
    """Columns no card signs, rewritten by the merchant and the hub: the consistency checks."""
    c = Collusion(log, keys_dir, [])
    row = c.row(lambda r: r["card_province"] == "sichuan" and r["terminal_province"] == "sichuan")
    c.merchants = [row[INDEX["merchant_id"]]]
    c.ring = KeyRing.load(keys_dir, names=[HUB, merchant_name(c.merchants[0])])
    set_columns(row, **{column: value})
    c.commit()
    code, found = verify_cli(log, keys_dir)
    assert code == 1 and found == [("consistency", reason)]


def test_hub_and_every_merchant_move_an_issuer_outage(log, keys_dir):
    """The hub stood in; with every merchant it rewrites the run's configuration so the outage is
    shorter, re-chains from the new genesis and re-signs all uploads and totals. The stand-ins
    now fall outside the (moved) outage, and the issuers' loss-report lists name the genuine log."""
    c = Collusion(log, keys_dir, merchant_ids())
    standins = {r[0] for r in c.rows if r[INDEX["authoriser"]] == "standin"}
    assert standins
    c.config_json = c.config_json.replace('"outages":[[1.5,2.5]]', '"outages":[[0.1,0.2]]')
    assert '"outages":[[0.1,0.2]]' in c.config_json
    c.commit()
    code, found = verify_cli(log, keys_dir)
    assert code == 1
    assert {("blacklist", "bad_signature:sichuan"), ("blacklist", "bad_signature:chongqing")} <= set(found)
    assert found.count(("consistency", "standin_outside_outage")) == len(standins)

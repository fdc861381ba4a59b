"""The verifier: a clean log passes; every tampering in the catalogue is caught; it never raises on
arbitrary bytes; attacks injected by a scenario are all detected with no false positives."""

import os
import shutil
import sqlite3
import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.errors import CardsimError
from cardsim.records.record import COLUMN_NAMES
from cardsim.config.scenario import load
from cardsim.audit.verify import verify

from adversarial.support import edit, one
from conftest import ROOT, SCENARIOS


@pytest.fixture(scope="module")
def signed_log(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("verify")
    sc = load(ROOT / "scenarios" / "issuer-outage.toml",
              sets=["simulation.duration_hours=3", "simulation.start_hour=7",
                    "simulation.checkpoint_every=400",
                    # down while the halls open at 09:00: government items decline in stand-in
                    "provinces.sichuan.issuer.outages=[[1.5, 3.0]]"],
              scale=0.05)
    api.run(sc, out=d / "clean.db", keys_dir=keys_dir, workers=2)
    return d / "clean.db"


@pytest.fixture(scope="module")
def lost_log(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("lost")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
              sets=["simulation.duration_hours=2", "simulation.start_hour=7",
                    "provinces.sichuan.lost_per_day=3000",
                    "provinces.chongqing.lost_per_day=3000"])
    api.run(sc, out=d / "lost.db", keys_dir=keys_dir)
    return d / "lost.db"


@pytest.fixture
def copy(signed_log, tmp_path):
    def make(name="t.db"):
        p = tmp_path / name
        shutil.copy(signed_log, p)
        return p
    return make


def seqs_found(report, check=None):
    return {f.seq for f in report.findings if check is None or f.check == check}


def test_clean_log_verifies(signed_log, keys_dir):
    r = verify(signed_log, keys_dir, workers=1)
    assert r.ok and r.records > 1000 and not r.findings
    assert r.passed["issuer_signature"] == r.records and r.passed["checkpoints"] >= 3


ALTER = {int: lambda v: v + 1, float: lambda v: v + 0.5, str: lambda v: v + "x",
         bytes: lambda v: bytes([v[0] ^ 1]) + v[1:]}


@pytest.mark.parametrize("column", COLUMN_NAMES)
def test_editing_any_column_is_caught(copy, keys_dir, column):
    p = copy()
    target = one(p, "SELECT seq FROM transactions WHERE mode='online' AND issuer_sig IS NOT NULL "
                    "AND concession IS NULL AND reason IS NOT NULL LIMIT 1")[0]
    value = one(p, f"SELECT {column} FROM transactions WHERE seq = {target}")[0]
    if value is None:
        new = "forged"
    else:
        new = ALTER[type(value)](value)
    if column == "seq":
        edit(p, "UPDATE transactions SET seq = 99999999 WHERE seq = ?", target)
    else:
        edit(p, f"UPDATE transactions SET {column} = ? WHERE seq = ?", new, target)
    r = verify(p, keys_dir)
    assert not r.ok
    assert seqs_found(r) & {target, target + 1, 99999999}, r.findings[:5]


def test_signature_swapped_between_records(copy, keys_dir):
    p = copy()
    a, sa = one(p, "SELECT seq, card_sig FROM transactions WHERE seq = 10")
    b, sb = one(p, "SELECT seq, card_sig FROM transactions WHERE seq = 20")
    edit(p, "UPDATE transactions SET card_sig = ? WHERE seq = 10", sb)
    edit(p, "UPDATE transactions SET card_sig = ? WHERE seq = 20", sa)
    r = verify(p, keys_dir)
    assert {10, 20} <= seqs_found(r, "card_signature")


def test_card_signature_moved_into_the_issuer_field(copy, keys_dir):
    p = copy()
    s, = one(p, "SELECT seq FROM transactions WHERE authoriser = 'issuer' LIMIT 1")
    edit(p, "UPDATE transactions SET issuer_sig = card_sig WHERE seq = ?", s)
    assert s in seqs_found(verify(p, keys_dir), "issuer_signature")


def test_issuer_signature_moved_to_another_online_record(copy, keys_dir):
    p = copy()
    a, b = [r for r in sqlite3.connect(p).execute(
        "SELECT seq, issuer_sig FROM transactions WHERE authoriser='issuer' LIMIT 2")]
    edit(p, "UPDATE transactions SET issuer_sig = ? WHERE seq = ?", a[1], b[0])
    assert b[0] in seqs_found(verify(p, keys_dir), "issuer_signature")


def test_deleted_record(copy, keys_dir):
    p = copy()
    edit(p, "DELETE FROM transactions WHERE seq = 77")
    r = verify(p, keys_dir)
    assert 78 in seqs_found(r, "sequence") and 78 in seqs_found(r, "chain")


def _insert_copy_after(p, k, source):
    con = sqlite3.connect(p)
    with con:
        n = con.execute("SELECT max(seq) FROM transactions").fetchone()[0]
        for s in range(n, k, -1):
            con.execute("UPDATE transactions SET seq = seq + 1 WHERE seq = ?", (s,))
        row = list(con.execute("SELECT * FROM transactions WHERE seq = ?", (source,)).fetchone())
        row[0], row[1] = k + 1, "T-inserted"
        con.execute(f"INSERT INTO transactions VALUES ({','.join('?' * len(row))})", row)
    con.close()


def test_inserted_and_duplicated_records(copy, keys_dir):
    p = copy("ins.db")
    _insert_copy_after(p, 50, 30)                      # an old record re-inserted later
    r = verify(p, keys_dir)
    assert 51 in seqs_found(r, "chain") and not r.ok
    p = copy("dup.db")
    _insert_copy_after(p, 50, 50)                      # a record duplicated in place
    r = verify(p, keys_dir)
    assert 51 in seqs_found(r) and not r.ok


def test_reordered_records(copy, keys_dir):
    p = copy()
    con = sqlite3.connect(p)
    a = con.execute("SELECT * FROM transactions WHERE seq = 40").fetchone()
    b = con.execute("SELECT * FROM transactions WHERE seq = 41").fetchone()
    cols = COLUMN_NAMES[1:]
    sets = ", ".join(f"{c} = ?" for c in cols)
    with con:
        con.execute("UPDATE transactions SET tx_id = tx_id || 'x' WHERE seq IN (40, 41)")
        con.execute(f"UPDATE transactions SET {sets} WHERE seq = 40", (*b[1:],))
        con.execute(f"UPDATE transactions SET {sets} WHERE seq = 41", (*a[1:],))
    con.close()
    assert {40, 41} <= seqs_found(verify(p, keys_dir), "chain")


def test_cut_tail(copy, keys_dir):
    p = copy()
    n, = one(p, "SELECT max(seq) FROM transactions")
    edit(p, "DELETE FROM transactions WHERE seq > ?", n - 5)
    r = verify(p, keys_dir)
    assert any(f.reason == "final_count_differs" for f in r.findings)
    edit(p, "DELETE FROM checkpoints WHERE final = 1")     # the attacker hides the final one too
    r = verify(p, keys_dir)
    assert any(f.reason == "no_final_checkpoint" for f in r.findings)


def test_checkpoint_resigned_with_a_foreign_key(copy, keys_dir):
    from cardsim.records import encoding as E
    from cardsim.signing.crypto import ED25519
    p = copy()
    con = sqlite3.connect(p)
    run = con.execute("SELECT config_json, seed FROM runs").fetchone()
    number, count, head, root, t, final = con.execute(
        "SELECT checkpoint, count, head, root, sim_time, final FROM checkpoints LIMIT 1").fetchone()
    rogue = ED25519.from_seed(os.urandom(32))
    msg = E.checkpoint_message(E.genesis_hash(*run), count, head, root, t, final)
    with con:
        con.execute("UPDATE checkpoints SET signature = ? WHERE checkpoint = ?",
                    (ED25519.sign(rogue, msg), number))
    con.close()
    assert any(f.reason == f"bad_signature:{number}" for f in verify(p, keys_dir).findings)


def _offline_target(p):
    return one(p, "SELECT seq, terminal_id, uploaded_at FROM transactions WHERE mode = 'offline' "
                  "AND outcome = 'approved' AND seq > 100 LIMIT 1")


def test_a_dishonest_log_owner_is_caught_by_the_terminal_uploads(copy, keys_dir):
    """The hub owns the log: it can rewrite a column of an offline record that no card signs,
    re-chain every record after it and re-sign every checkpoint. Card and chain checks then pass;
    the terminal's upload does not. (The outcome and the balance are the card's: its signature
    fails too, tests/adversarial/test_binding.py.)"""
    from cardsim.records import encoding as E
    from cardsim.log.chain import Chain
    from cardsim.signing.keys import HUB, KeyRing
    p = copy()
    target, terminal, at = _offline_target(p)
    ring = KeyRing.load(keys_dir, names=[HUB])
    con = sqlite3.connect(p)
    run = con.execute("SELECT config_json, seed FROM runs").fetchone()
    every = con.execute("SELECT min(count) FROM checkpoints").fetchone()[0]
    rows = [list(r) for r in con.execute("SELECT * FROM transactions ORDER BY seq")]
    rows[target - 1][COLUMN_NAMES.index("category")] = "student"   # no card signs the category
    chain = Chain(E.genesis_hash(*run), every, lambda m: ring.algorithm.sign(ring.private[HUB], m))
    chained = chain.extend([tuple(r[:-2]) for r in rows])
    final = chain.checkpoint(con.execute("SELECT sim_time FROM checkpoints WHERE final = 1")
                             .fetchone()[0], final=1)
    with con:
        con.execute("DELETE FROM transactions")
        con.executemany(f"INSERT INTO transactions VALUES ({','.join('?' * len(COLUMN_NAMES))})",
                        chained)
        con.execute("DELETE FROM checkpoints")
        con.executemany("INSERT INTO checkpoints VALUES (?,?,?,?,?,?,?,?)", chain.take() + [final])
        con.execute("DELETE FROM tree_blocks")              # the tree's stored block roots too
        con.executemany("INSERT INTO tree_blocks VALUES (?,?)", chain.take_blocks())
    con.close()
    r = verify(p, keys_dir)
    assert r.failed["chain"] == r.failed["checkpoints"] == r.failed["card_signature"] == 0
    number, = one(p, f"SELECT upload FROM uploads WHERE terminal_id = '{terminal}' AND uploaded_at = {at}")
    assert [f.reason for f in r.findings] == [f"digest_differs:{number}:{terminal}@{at:g}"]


def test_deleted_upload_leaves_its_records_unvouched(copy, keys_dir):
    p = copy()
    target, terminal, at = _offline_target(p)
    n, = one(p, f"SELECT count FROM uploads WHERE terminal_id = '{terminal}' AND uploaded_at = {at}")
    edit(p, "DELETE FROM uploads WHERE terminal_id = ? AND uploaded_at = ?", terminal, at)
    r = verify(p, keys_dir)
    assert target in seqs_found(r, "uploads")
    assert sum(f.reason == "not_uploaded" for f in r.findings) == n
    # and the upload is missing from the terminal's numbers or from its merchant's totals
    others = {f.reason.split(":")[0] for f in r.findings if f.reason != "not_uploaded"}
    assert others and others <= {"number_gap", "count_differs"}


def test_uploads_left_out_are_seen_in_the_numbers_and_the_merchants_totals(copy, keys_dir):
    """Uploads dropped from a log, a terminal's last ones included, show as a gap in the
    terminal's upload numbers or as totals that are not the merchant's."""
    p = copy()
    terminal, last = one(p, "SELECT terminal_id, max(number) FROM uploads GROUP BY terminal_id "
                            "HAVING max(number) >= 4 LIMIT 1")
    merchant, = one(p, f"SELECT merchant_id FROM uploads WHERE terminal_id = '{terminal}'")
    edit(p, "DELETE FROM uploads WHERE terminal_id = ? AND number = ?", terminal, last)   # its last
    r = verify(p, keys_dir)
    assert f"count_differs:{merchant}" in {f.reason for f in r.findings}
    assert r.failed["merchant_totals"] == 1 and r.passed["merchant_totals"] == 7
    assert not any(f.reason.startswith("number_gap") for f in r.findings)
    edit(p, "DELETE FROM uploads WHERE terminal_id = ? AND number = 2", terminal)         # a middle one
    r = verify(p, keys_dir)
    assert f"number_gap:{terminal}#2" in {f.reason for f in r.findings}


@pytest.mark.parametrize("tamper,reason", [
    ("DELETE FROM merchant_totals WHERE merchant_id = 'sichuan-metro'", "missing"),
    ("UPDATE merchant_totals SET records = records - 1 WHERE merchant_id = 'sichuan-metro'",
     "bad_signature"),
    ("UPDATE merchant_totals SET merchant_id = 'sichuan-ferry' WHERE merchant_id = 'sichuan-metro'",
     "unknown_merchant")])
def test_merchant_totals_tampered(copy, keys_dir, tamper, reason):
    p = copy()
    edit(p, tamper)
    r = verify(p, keys_dir)
    assert reason in {f.reason.split(":")[0] for f in r.findings}
    assert all(f.check == "merchant_totals" for f in r.findings)


@pytest.mark.parametrize("column,value", [("count", "count + 1"), ("uploaded_at", "uploaded_at + 1"),
                                          ("records_digest", "zeroblob(32)"),
                                          ("merchant_id", "merchant_id || 'x'"), ("number", "number + 1")])
def test_edited_upload_row(copy, keys_dir, column, value):
    p = copy()
    edit(p, f"UPDATE uploads SET {column} = {value} WHERE upload = 7")
    r = verify(p, keys_dir)
    assert not r.ok and r.failed["uploads"] + r.failed["terminal_certificate"] >= 1
    assert all(f.check in ("uploads", "terminal_certificate", "merchant_totals") for f in r.findings)


def test_terminal_certificate_not_from_its_merchant(copy, keys_dir):
    from cardsim.records import encoding as E
    from cardsim.signing.crypto import ED25519
    p = copy()
    tid, body = one(p, "SELECT subject, body FROM certificates WHERE kind = 'terminal' LIMIT 1")
    rogue = ED25519.from_seed(os.urandom(32))                 # a key of the attacker's own
    edit(p, "UPDATE certificates SET signature = ? WHERE subject = ?", ED25519.sign(rogue, body), tid)
    r = verify(p, keys_dir)
    uploads, = one(p, f"SELECT count(*) FROM uploads WHERE terminal_id = '{tid}'")
    assert r.failed["terminal_certificate"] == uploads > 0
    assert {f.reason.split(":")[0] for f in r.findings} == {"bad_merchant_signature"}
    # a certificate naming another merchant than the one that signed it
    _, v = E.decode(body)
    v[1] = "chongqing-bus"
    edit(p, "UPDATE certificates SET body = ? WHERE subject = ?",
         E.terminal_cert_body(*v), tid)
    assert {f.reason.split(":")[0] for f in verify(p, keys_dir).findings} == {"wrong_subject"}


@pytest.mark.parametrize("tamper,reason", [
    ("DELETE FROM blacklist WHERE rowid = (SELECT min(rowid) FROM blacklist)", "count_differs"),
    ("UPDATE blacklist SET reported_at = reported_at + 3600 "
     "WHERE rowid = (SELECT min(rowid) FROM blacklist)", "digest_differs"),
    ("UPDATE blacklist_signatures SET count = count - 1", "bad_signature"),
    ("DELETE FROM blacklist_signatures WHERE province = 'sichuan'", "missing")])
def test_loss_reports_are_signed_by_their_issuer(lost_log, tmp_path, keys_dir, tamper, reason):
    """Deleting or moving a loss report would hide it from the revocation check."""
    p = tmp_path / "lost.db"
    shutil.copy(lost_log, p)
    assert verify(p, keys_dir).passed["blacklist"] == 2
    assert one(p, "SELECT count(*) FROM blacklist WHERE card_province = 'sichuan'")[0] > 0
    edit(p, tamper)
    r = verify(p, keys_dir)
    assert r.failed["blacklist"] >= 1 and reason in {f.reason.split(":")[0] for f in r.findings}
    assert all(f.check in ("blacklist", "revocation") for f in r.findings)


@pytest.mark.parametrize("tamper,reason", [
    ("UPDATE card_state SET balance_fen = balance_fen + 100000 "
     "WHERE card_id = (SELECT min(card_id) FROM card_state)", "digest_differs"),
    ("UPDATE card_state SET quota_extensions_left = quota_extensions_left + 1 "
     "WHERE card_id = (SELECT max(card_id) FROM card_state)", "digest_differs"),
    ("DELETE FROM card_state WHERE card_id = (SELECT min(card_id) FROM card_state)",
     "count_differs"),
    ("UPDATE card_state_signature SET count = count + 1", "bad_signature"),
    ("UPDATE card_state SET atc = 'high' WHERE card_id = (SELECT min(card_id) FROM card_state)",
     "digest_differs"),
    ("DELETE FROM card_state_signature", "no_signature")])
def test_the_cards_final_state_is_signed_by_the_hub(copy, keys_dir, tamper, reason):
    """card_state is what a following day starts from: an edited stored value or quota fails."""
    p = copy()
    assert verify(p, keys_dir).passed["card_state"] == 1
    edit(p, tamper)
    r = verify(p, keys_dir)
    assert [(f.check, f.reason) for f in r.findings] == [("card_state", reason)]


def test_a_log_without_records_verifies(tmp_path, keys_dir):
    """A run in which no card transacts signs the genesis and the empty tree as its final head."""
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.01,
              sets=["simulation.duration_hours=3", "simulation.start_hour=0"])
    result = api.run(sc, out=tmp_path / "empty.db", keys_dir=keys_dir)
    assert result.summary["transactions"] == 0
    r = verify(tmp_path / "empty.db", keys_dir)
    assert r.ok and r.passed["checkpoints"] >= 1 and r.passed["card_state"] == 1


def test_untrusted_root_and_wrong_keys(copy, keys_dir, tmp_path):
    from cardsim.signing.keys import init_keys
    init_keys(tmp_path / "other")
    r = verify(copy(), tmp_path / "other")
    assert not r.ok and any(f.reason == "root_not_trusted" for f in r.findings)
    # one headline, not a finding per record: nothing the log asserts is trusted
    assert r.wrong_root and r.headline.startswith("wrong root certificate")
    assert r.failed["card_certificate"] == 0 and sum(r.failed.values()) == len(r.findings) < 20
    assert r.as_dict()["wrong_root"] is True


@pytest.mark.parametrize("bad", ["truncated", "extended", "s_plus_l"])
def test_non_canonical_ed25519_signatures(copy, keys_dir, bad):
    p = copy()
    sig, = one(p, "SELECT card_sig FROM transactions WHERE seq = 5")
    L = 2**252 + 27742317777372353535851937790883648493
    new = {"truncated": sig[:63], "extended": sig + b"\x00",
           "s_plus_l": sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")}[bad]
    edit(p, "UPDATE transactions SET card_sig = ? WHERE seq = 5", new)
    assert 5 in seqs_found(verify(p, keys_dir), "card_signature")


def test_high_s_ecdsa_signature_is_rejected(tmp_path):
    from cardsim.signing.crypto import _P256_N
    from cardsim.signing.keys import init_keys
    init_keys(tmp_path / "k", algorithm="ecdsa-p256")
    sc = load(ROOT / "scenarios" / "weekday.toml", sets=["simulation.duration_hours=1",
                                                          "simulation.start_hour=8"], scale=0.02)
    api.run(sc, out=tmp_path / "e.db", keys_dir=tmp_path / "k")
    assert verify(tmp_path / "e.db", tmp_path / "k").ok
    sig, = one(tmp_path / "e.db", "SELECT card_sig FROM transactions WHERE seq = 3")
    high = sig[:32] + (_P256_N - int.from_bytes(sig[32:], "big")).to_bytes(32, "big")
    edit(tmp_path / "e.db", "UPDATE transactions SET card_sig = ? WHERE seq = 3", high)
    assert 3 in seqs_found(verify(tmp_path / "e.db", tmp_path / "k"), "card_signature")


def test_injected_attacks_all_detected_no_false_positives(tmp_path, keys_dir):
    from cardsim.attacks.injection import compare
    sets = ["simulation.duration_hours=6", "simulation.start_hour=6",
            "provinces.sichuan.lost_per_day=3000", "provinces.chongqing.lost_per_day=3000"]
    for a in ("cloned_cards", "foreign_key_records", "forged_certificates", "revoked_card_uses",
              "expired_card_uses", "tampered_records", "deleted_records", "reordered_records"):
        sets.append(f"attacks.{a}=3")
    sets.append("attacks.truncated_records=4")
    sc = load(ROOT / "scenarios" / "weekday.toml", sets=sets, scale=0.08)
    api.run(sc, out=tmp_path / "a.db", keys_dir=keys_dir, workers=2)
    r1 = verify(tmp_path / "a.db", keys_dir, workers=1)
    r2 = verify(tmp_path / "a.db", keys_dir, workers=2)
    assert r1 == r2                                       # same report whatever the workers
    truth = compare(tmp_path / "a.db", r1)
    assert set(truth["by_attack"]) == {a.split("=")[0].split(".")[1] for a in sets if a.startswith("attacks.")}
    for kind, c in truth["by_attack"].items():
        assert c["injected"] >= 1 and c["detected"] == c["injected"], kind
    assert truth["false_positives"] == 0 and truth["all_detected"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_clean_logs_of_every_scenario_verify(tmp_path, keys_dir, path):
    sc = load(path, sets=["simulation.duration_hours=2", "simulation.start_hour=8"], scale=0.03)
    api.run(sc, out=tmp_path / "s.db", keys_dir=keys_dir)
    r = verify(tmp_path / "s.db", keys_dir, workers=2)
    assert r.ok and r.records > 0, r.findings[:5]


values = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True),
                   st.text(max_size=20), st.binary(max_size=80))


@pytest.fixture(scope="module")
def tiny_log(tmp_path_factory, keys_dir):
    """About 900 records: each example verifies a whole log, so a small one keeps the test quick."""
    d = tmp_path_factory.mktemp("tiny")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
              sets=["simulation.duration_hours=1", "simulation.start_hour=8"])
    api.run(sc, out=d / "tiny.db", keys_dir=keys_dir)
    return d / "tiny.db", one(d / "tiny.db", "SELECT count(*) FROM transactions")[0]


def _stored(value):
    return None if value is None else (type(value), value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(COLUMN_NAMES[1:]), pick=st.integers(0, 10**6), value=values)
def test_any_written_value_is_caught_and_never_raises(tiny_log, tmp_path, keys_dir, column, pick,
                                                      value):
    """Whatever value replaces whatever column of a record (seq aside), verification does not
    raise, and it fails with a finding on that record exactly when the stored value changed."""
    src, n = tiny_log
    seq = 1 + pick % n
    p = tmp_path / f"h{uuid.uuid4().hex}.db"      # a fresh file: no state of an earlier example
    shutil.copy(src, p)
    before = one(p, f"SELECT {column} FROM transactions WHERE seq = {seq}")[0]
    try:
        edit(p, f"UPDATE transactions SET {column} = ? WHERE seq = ?", value, seq)
    except sqlite3.IntegrityError:      # the table's own constraints refuse it: not a log
        assume(False)
    after = one(p, f"SELECT {column} FROM transactions WHERE seq = {seq}")[0]
    r = verify(p, keys_dir, workers=1)
    if _stored(after) == _stored(before):
        assert r.ok
    else:
        assert not r.ok and seq in seqs_found(r), (column, before, after, r.findings[:5])


def test_invalid_utf8_text_is_a_finding(copy, keys_dir):
    p = copy()
    con = sqlite3.connect(p)
    with con:
        con.execute("UPDATE transactions SET service = CAST(X'FFFE' AS TEXT) WHERE seq = 9")
    con.close()
    r = verify(p, keys_dir)
    assert 9 in seqs_found(r)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, 400_000), junk=st.binary(min_size=1, max_size=64))
def test_corrupted_file_is_a_finding_or_a_clean_error(copy, keys_dir, offset, junk):
    p = copy("c.db")
    size = p.stat().st_size
    with open(p, "r+b") as f:
        f.seek(offset % size)
        f.write(junk)
    try:
        verify(p, keys_dir)
    except CardsimError as e:
        assert "\n" not in str(e)


runner = CliRunner()


def test_cli_exit_codes(copy, keys_dir, tmp_path):
    p = copy()
    r = runner.invoke(app, ["verify", str(p), "--keys", str(keys_dir), "--json"])
    assert r.exit_code == 0
    import json
    assert json.loads(r.stdout)["ok"] is True
    edit(p, "UPDATE transactions SET amount_fen = amount_fen + 1 WHERE seq = 3")
    r = runner.invoke(app, ["verify", str(p), "--keys", str(keys_dir)])
    assert r.exit_code == 1 and "FAILED" in r.stdout
    for args, msg in ((["verify", str(tmp_path / "none.db")], "no such log file"),
                      (["verify", str(p), "--keys", str(tmp_path / "nokeys")], "no such keys directory")):
        r = runner.invoke(app, args + ["--keys", str(keys_dir)] if "--keys" not in args else args)
        assert r.exit_code == 2 and msg in r.stderr and "Traceback" not in r.output
    (tmp_path / "x.db").write_bytes(b"garbage" * 100)
    r = runner.invoke(app, ["verify", str(tmp_path / "x.db"), "--keys", str(keys_dir)])
    assert r.exit_code == 2 and "not an SQLite database" in r.stderr


def test_unsigned_log_fails_verification(tmp_path, keys_dir):
    sc = load(ROOT / "scenarios" / "weekday.toml", sets=["simulation.duration_hours=1"], scale=0.02)
    api.run(sc, out=tmp_path / "u.db", sign=False)
    r = verify(tmp_path / "u.db", keys_dir)
    assert not r.ok and not r.signed

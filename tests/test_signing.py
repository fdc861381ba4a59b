import sqlite3

import pytest

from cardsim.model.card import population_keys
from cardsim import api
from cardsim.log.store import digest
from cardsim.records.record import MODEL_COLUMN_NAMES, columns_getter
from cardsim.config.scenario import load

from logcheck import check


@pytest.fixture(scope="module")
def quick(request):
    from conftest import ROOT
    return load(ROOT / "scenarios" / "issuer-outage.toml",
                sets=["simulation.duration_hours=4", "simulation.start_hour=6.5",
                      "simulation.checkpoint_every=500",
                      "provinces.sichuan.issuer.outages=[[1.0, 2.5]]"], scale=0.05)


def test_every_record_signed_chained_and_checkpointed(tmp_path, quick, keys_dir):
    s = api.run(quick, out=tmp_path / "r.db", keys_dir=keys_dir, workers=2).summary
    got = check(tmp_path / "r.db", (keys_dir / "root-ca.pem").read_bytes())
    assert got["records"] == s["transactions"] > 1000
    assert got["final"] == s["transactions"]
    assert len(got["checkpoint_heads"]) == s["transactions"] // 500 + 1
    con = sqlite3.connect(tmp_path / "r.db")
    online = con.execute("SELECT count(*) FROM transactions WHERE issuer_sig IS NOT NULL").fetchone()[0]
    standin = con.execute("SELECT count(*) FROM transactions WHERE authoriser='standin'").fetchone()[0]
    cards = con.execute("SELECT count(DISTINCT card_id) FROM transactions").fetchone()[0]
    certs = con.execute("SELECT count(*) FROM certificates WHERE kind='card'").fetchone()[0]
    assert online > 0 and standin > 0                  # issuer and hub (stand-in) signatures
    assert certs == cards                              # one certificate per card used
    # every record is in exactly one signed terminal upload; one certificate per terminal used
    assert got["uploaded"] == s["transactions"]
    terminals = con.execute("SELECT count(DISTINCT terminal_id) FROM transactions").fetchone()[0]
    assert con.execute("SELECT count(*) FROM certificates WHERE kind='terminal'").fetchone()[0] == terminals
    # the uploads are numbered in (uploaded_at, terminal_id) order
    ups = con.execute("SELECT uploaded_at, terminal_id FROM uploads ORDER BY upload").fetchall()
    assert ups == sorted(ups) and len(ups) > terminals


def test_same_log_for_one_two_and_three_workers(tmp_path, quick, keys_dir):
    digests = set()
    for w in (1, 2, 3):
        api.run(quick, out=tmp_path / f"w{w}.db", keys_dir=keys_dir, workers=w)
        digests.add(digest(tmp_path / f"w{w}.db"))
    assert len(digests) == 1
    assert (tmp_path / "w1.db").exists()


def test_ecdsa_logs_verify(tmp_path, quick):
    from cardsim.signing.keys import init_keys
    init_keys(tmp_path / "k", algorithm="ecdsa-p256")
    api.run(quick, out=tmp_path / "e.db", keys_dir=tmp_path / "k", workers=2)
    assert check(tmp_path / "e.db", (tmp_path / "k" / "root-ca.pem").read_bytes())["records"] > 0


def test_an_edited_column_breaks_the_chain(tmp_path, quick, keys_dir):
    api.run(quick, out=tmp_path / "r.db", keys_dir=keys_dir)
    con = sqlite3.connect(tmp_path / "r.db")
    con.execute("UPDATE transactions SET wait_s = wait_s + 1 WHERE seq = 100")
    con.commit()
    with pytest.raises(AssertionError):
        check(tmp_path / "r.db", (keys_dir / "root-ca.pem").read_bytes())


def test_no_private_key_material_in_the_log(tmp_path, quick, keys_dir):
    from cardsim.signing.keys import KeyRing, private_secret
    api.run(quick, out=tmp_path / "r.db", keys_dir=keys_dir)
    blob = (tmp_path / "r.db").read_bytes()
    ring = KeyRing.load(keys_dir)
    for name, key in ring.private.items():
        assert private_secret(key) not in blob, name
    assert b"PRIVATE KEY" not in blob


def test_unsigned_logs(tmp_path, quick, keys_dir):
    s = api.run(quick, out=tmp_path / "u.db", sign=False).summary
    con = sqlite3.connect(tmp_path / "u.db")
    assert con.execute("SELECT count(*) FROM transactions WHERE card_sig IS NULL").fetchone()[0] == s["transactions"]
    assert con.execute("SELECT signed FROM runs").fetchone()[0] == 0


def test_first_use_creates_keys(tmp_path, quick):
    notes = []
    api.run(quick, out=tmp_path / "r.db", keys_dir=tmp_path / "fresh", notify=notes.append)
    assert (tmp_path / "fresh" / "root-ca.pem").exists() and "created keys" in notes[0]
    api.run(quick, out=tmp_path / "r2.db", keys_dir=tmp_path / "fresh", notify=notes.append)
    assert len(notes) == 1


def test_run_with_encrypted_keys(tmp_path, quick):
    from cardsim.errors import CardsimError
    from cardsim.signing.keys import init_keys
    init_keys(tmp_path / "k", passphrase=b"pa55-long-enough")
    api.run(quick, out=tmp_path / "e.db", keys_dir=tmp_path / "k", passphrase=b"pa55-long-enough")
    assert check(tmp_path / "e.db", (tmp_path / "k" / "root-ca.pem").read_bytes())["records"] > 0
    with pytest.raises(CardsimError, match="encrypted; pass --passphrase-env"):
        api.run(quick, out=tmp_path / "f.db", keys_dir=tmp_path / "k")
    with pytest.raises(CardsimError, match="wrong passphrase"):
        api.run(quick, out=tmp_path / "g.db", keys_dir=tmp_path / "k", passphrase=b"wrong")
    assert not (tmp_path / "g.db").exists() or sqlite3.connect(tmp_path / "g.db").execute(
        "SELECT completed FROM runs").fetchone()[0] == 0


# --- attack injection through explicit hooks ----------------------------------------------------

_seq, _card_id = columns_getter("seq"), columns_getter("card_id")


def _model_rows(scenario):
    from cardsim.model.simulation import Simulation
    rows = []
    Simulation(scenario, sink=lambda batch, _marks: rows.extend(batch)).run()
    return rows


class _Injector:
    """An attacker hook of the test's own: at t = 1800 s, one more record like the last one."""

    def __init__(self, sim_ref):
        self.sim_ref = sim_ref
        self.seq = None

    def process(self, env):
        yield env.timeout(1800.0)
        sim = self.sim_ref[0]
        last = dict(zip(MODEL_COLUMN_NAMES, sim.buffer[-1]))
        tail = tuple(last.values())[2:-1]               # the row but seq, tx_id and UN
        self.seq = sim.inject(tail, last["channel"], last["terminal_province"],
                              last["card_province"], "approved", None, last["amount_fen"], "probe")


def test_injected_rows_carry_their_mark_beside_the_row_not_in_it(quick):
    from cardsim.model.simulation import Simulation
    ref = []
    injector = _Injector(ref)
    rows, seen = [], []

    def sink(batch, marks):
        rows.extend(batch)
        seen.append(({_seq(r) for r in batch}, dict(marks)))
    sim = Simulation(quick, sink=sink)
    ref.append(sim)
    sim.run(attacker=injector)
    assert injector.seq is not None
    assert {len(r) for r in rows} == {len(MODEL_COLUMN_NAMES)}          # no in-band flag
    marked = [(seqs, marks) for seqs, marks in seen if marks]
    assert marked == [(next(s for s, _ in seen if injector.seq in s), {injector.seq: "probe"})]


def test_the_attack_signer_hook_signs_marked_rows_only(quick, keys_dir):
    from cardsim.signing.certificate import Certificate
    from cardsim.signing.signer import RecordSigner, SignSpec, card_message
    rows = _model_rows(quick)[:300]
    calls = []

    def hook(kind, row, signer):
        calls.append((kind, row))
        key, _pub = signer.card_key("510000000001", "sichuan")        # some other card's key
        cert = Certificate(_card_id(row), "card", "issuer-sichuan", signer.alg.name, b"body", b"sig")
        return signer.alg.sign(key, card_message(row, signer.epoch)), cert
    base = SignSpec(str(keys_dir), None, population_keys(quick.seed), quick.epoch)
    plain, _ = RecordSigner(base).sign(rows)
    marked_seq = _seq(rows[123])
    spec = SignSpec(base.keys_dir, None, base.card_keys, base.epoch, attack_signer=hook)
    out, certs = RecordSigner(spec).sign(rows, {marked_seq: "foreign_key_records"})
    assert calls == [("foreign_key_records", rows[123])]
    assert out[:123] == plain[:123] and out[124:] == plain[124:]
    assert out[123][:-2] == rows[123] and out[123][-1] is None
    assert out[123][-2] != plain[123][-2]                                 # the hook's signature
    assert (marked_seq, Certificate(_card_id(rows[123]), "card", "issuer-sichuan", "ed25519", b"body",
                                    b"sig")) in certs


def test_a_marked_row_without_an_attack_signer_is_an_error(quick, keys_dir):
    from cardsim.signing.signer import RecordSigner, SignSpec
    rows = _model_rows(quick)[:5]
    signer = RecordSigner(SignSpec(str(keys_dir), None, population_keys(quick.seed), quick.epoch))
    with pytest.raises(RuntimeError, match="no attack signer"):
        signer.sign(rows, {_seq(rows[2]): "cloned_cards"})


def test_model_signing_and_log_do_not_import_attacks():
    import subprocess
    import sys
    code = ("import sys, cardsim.model.simulation, cardsim.log.pipeline, cardsim.signing.signer, "
            "cardsim.audit.verify; "
            "print(sorted(m for m in sys.modules if m.startswith('cardsim.attacks')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_certificate_and_checkpoint_rows_follow_their_tables():
    from cardsim.log.chain import Checkpoint
    from cardsim.log.store import CERT_COLUMNS, CHECKPOINT_COLUMNS
    from cardsim.signing.certificate import Certificate
    assert Certificate._fields == tuple(CERT_COLUMNS)
    assert Checkpoint._fields == tuple(CHECKPOINT_COLUMNS)

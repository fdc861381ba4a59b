import sqlite3

import pytest

from cardsim import api
from cardsim.log.store import digest
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
    init_keys(tmp_path / "k", passphrase=b"pa55")
    api.run(quick, out=tmp_path / "e.db", keys_dir=tmp_path / "k", passphrase=b"pa55")
    assert check(tmp_path / "e.db", (tmp_path / "k" / "root-ca.pem").read_bytes())["records"] > 0
    with pytest.raises(CardsimError, match="encrypted; pass --passphrase-env"):
        api.run(quick, out=tmp_path / "f.db", keys_dir=tmp_path / "k")
    with pytest.raises(CardsimError, match="wrong passphrase"):
        api.run(quick, out=tmp_path / "g.db", keys_dir=tmp_path / "k", passphrase=b"wrong")
    assert not (tmp_path / "g.db").exists() or sqlite3.connect(tmp_path / "g.db").execute(
        "SELECT completed FROM runs").fetchone()[0] == 0

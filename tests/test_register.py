"""The card register: a card is issued once; logs are the same byte for byte with or without it."""

import shutil
import sqlite3

import pytest

from cardsim.model.card import population_keys
from cardsim import api
from cardsim.signing.keys import KeyRing, init_keys, private_secret
from cardsim.log.store import digest
from cardsim.records.record import columns_getter
from cardsim.signing.register import FILE, CardRegister
from cardsim.config.scenario import load

from conftest import ROOT
from logcheck import check


@pytest.fixture(scope="module")
def quick():
    return load(ROOT / "scenarios" / "weekday.toml",
                sets=["simulation.duration_hours=2", "simulation.start_hour=7"], scale=0.05)


@pytest.mark.parametrize("algorithm", ["ed25519", "ecdsa-p256"])
def test_cold_and_warm_register_give_the_same_log(tmp_path, quick, algorithm):
    keys = tmp_path / "k"
    init_keys(keys, algorithm=algorithm)
    api.run(quick, out=tmp_path / "cold.db", keys_dir=keys, workers=2)
    con = sqlite3.connect(keys / FILE)
    issued = con.execute("SELECT count(*) FROM cards").fetchone()[0]
    con.close()
    certs = sqlite3.connect(tmp_path / "cold.db").execute(
        "SELECT count(*) FROM certificates WHERE kind = 'card'").fetchone()[0]
    assert issued == certs > 100                        # every card the log certified, once
    api.run(quick, out=tmp_path / "warm.db", keys_dir=keys, workers=3)
    assert digest(tmp_path / "cold.db") == digest(tmp_path / "warm.db")
    assert check(tmp_path / "warm.db", (keys / "root-ca.pem").read_bytes())["records"] > 0
    # another start date: the same cards, new validity periods -> new certificates, still right
    other = load(ROOT / "scenarios" / "weekday.toml", scale=0.05,
                 sets=["simulation.duration_hours=2", "simulation.start_hour=7",
                       "simulation.start_date='2025-03-01'"])
    api.run(other, out=tmp_path / "other.db", keys_dir=keys)
    shutil.move(keys / FILE, tmp_path / "saved.db")
    api.run(other, out=tmp_path / "other-cold.db", keys_dir=keys)
    assert digest(tmp_path / "other.db") == digest(tmp_path / "other-cold.db")


def test_register_holds_no_secret(tmp_path, quick):
    keys = tmp_path / "k"
    init_keys(keys)
    api.run(quick, out=tmp_path / "r.db", keys_dir=keys)
    blob = (keys / FILE).read_bytes()
    for name, key in KeyRing.load(keys).private.items():
        assert private_secret(key) not in blob, name


def test_an_unusable_register_is_skipped(tmp_path, quick, keys_dir):
    keys = tmp_path / "k"
    shutil.copytree(keys_dir, keys)
    (keys / FILE).write_bytes(b"not a database")
    api.run(quick, out=tmp_path / "r.db", keys_dir=keys)
    assert check(tmp_path / "r.db", (keys / "root-ca.pem").read_bytes())["records"] > 0
    r = CardRegister(keys)
    assert r.lookup("x", ["510000000001"]) == {} and r.conn is None


def test_new_keys_drop_the_old_register(tmp_path, quick):
    keys = tmp_path / "k"
    init_keys(keys)
    api.run(quick, out=tmp_path / "r.db", keys_dir=keys)
    assert (keys / FILE).exists()
    init_keys(keys, force=True)
    assert not (keys / FILE).exists()


def test_a_warm_register_spares_certificate_signing_but_derives_every_key(tmp_path, quick):
    from cardsim.model.simulation import Simulation
    from cardsim.signing.signer import RecordSigner, SignSpec
    keys = tmp_path / "k"
    init_keys(keys)
    rows = []
    Simulation(quick, sink=lambda batch, _marks: rows.extend(batch)).run()
    spec = SignSpec(str(keys), None, population_keys(quick.seed), quick.epoch)
    cold = RecordSigner(spec)
    a = cold.sign(rows)
    cold.close()
    assert sum(d.derived for d in cold.cards.values()) == len(a[1]) > 100
    warm = RecordSigner(spec)
    calls = []
    sign = warm.alg.sign
    warm.alg = type(warm.alg)(warm.alg.name)     # count the signatures it makes
    object.__setattr__(warm.alg, "sign", lambda k, m: calls.append(1) or sign(k, m))
    b = warm.sign(rows)
    assert b == a                                              # the same rows and certificates
    # every public key derived from its seed again: the register never supplies one
    assert sum(d.derived for d in warm.cards.values()) == len(a[1])
    authoriser = columns_getter("authoriser")
    online = sum(1 for r in rows if authoriser(r) in ("issuer", "standin"))
    assert len(calls) == len(rows) + online                    # no certificate signed again

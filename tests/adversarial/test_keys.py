"""Keys, the card register and the trust anchor are hostile input (issue 11). Each test mounts the
attack as the stated role would: an outsider who can write the keys directory or the output
directory but holds no private key, or the holder of one key (the root's, for a misissued role).
Refusals are one line and exit 2; a log made under another root is exit 1 with one headline."""

import datetime as dt
import json
import os
import shutil
import sqlite3

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from typer.testing import CliRunner

from cardsim import api
from cardsim.cli.app import app
from cardsim.config.scenario import load
from cardsim.errors import CardsimError
from cardsim.signing.keys import (KeyRing, init_keys, load_certificate, load_private,
                                  load_trust_anchor, role_problem)
from cardsim.signing.register import FILE

from adversarial.support import assert_bad_input as assert_refused
from conftest import ROOT

runner = CliRunner()
SETS = ["simulation.duration_hours=1", "simulation.start_hour=7"]


@pytest.fixture(scope="module")
def scenario():
    return load(ROOT / "scenarios" / "weekday.toml", scale=0.01, sets=SETS)


@pytest.fixture(scope="module")
def warm(tmp_path_factory, scenario):
    """A keys directory whose card register holds the cards of one run, and that run's log."""
    d = tmp_path_factory.mktemp("warm")
    init_keys(d / "keys")
    api.run(scenario, out=d / "first.db", keys_dir=d / "keys", workers=1)
    return d


@pytest.fixture
def keys(warm, tmp_path):
    shutil.copytree(warm / "keys", tmp_path / "keys")
    return tmp_path / "keys"


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def run_cli(keys, out):
    args = ["run", ROOT / "scenarios" / "weekday.toml", "--scale", "0.01", "--quiet",
            "--workers", "1", "--keys", keys, "--out", out]
    for s in SETS:
        args += ["--set", s]
    return cli(*args)


def poison(keys, sql, *params):
    con = sqlite3.connect(keys / FILE)
    with con:
        con.execute(sql, params)
    con.close()


ATTACKER = ed25519.Ed25519PrivateKey.generate()
ATTACKER_PUB = ATTACKER.public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)


# --- the card register: an outsider who can write cards.db but no private key ---------------

def test_a_register_entry_with_a_foreign_public_key_is_refused_never_certified(keys, tmp_path):
    """Today's attack: the issuer would certify the attacker's key, and the card would sign with a
    public key not its own (with Ed25519, the private key then leaks)."""
    poison(keys, "UPDATE cards SET public_key = ?", ATTACKER_PUB)
    r = run_cli(keys, tmp_path / "x.db")
    assert_refused(r, FILE, "not the card's derived key")
    if (tmp_path / "x.db").exists():
        blobs = sqlite3.connect(tmp_path / "x.db").execute("SELECT body FROM certificates").fetchall()
        assert not any(ATTACKER_PUB in b for b, in blobs)


def test_a_register_entry_with_a_forged_certificate_signature_is_refused(keys, tmp_path):
    poison(keys, "UPDATE cards SET cert_signature = ?", ATTACKER.sign(b"anything"))
    assert_refused(run_cli(keys, tmp_path / "x.db"), FILE, "tag does not hold")


def test_a_register_entry_moved_to_another_card_is_refused(keys, tmp_path):
    con = sqlite3.connect(keys / FILE)
    (a, pa, sa, ta), (b, *_rest) = con.execute(
        "SELECT card_id, public_key, cert_signature, tag FROM cards ORDER BY card_id LIMIT 2").fetchall()
    con.close()
    poison(keys, "UPDATE cards SET public_key = ?, cert_signature = ?, tag = ? WHERE card_id = ?",
           pa, sa, ta, b)
    assert_refused(run_cli(keys, tmp_path / "x.db"), FILE, f"card {b}")


def test_a_register_with_a_trigger_is_ignored(keys, tmp_path, warm):
    """Not a register of this format (a trigger planted in it): the run goes on without it and
    the log is the same byte for byte."""
    poison(keys, "CREATE TRIGGER t AFTER INSERT ON cards BEGIN DELETE FROM cards; END")
    assert run_cli(keys, tmp_path / "x.db").exit_code == 0
    assert api.verify(tmp_path / "x.db", keys, workers=1).ok


@pytest.mark.parametrize("name", [FILE, FILE + "-wal"])
def test_a_link_planted_at_the_register_is_refused(keys, tmp_path, name):
    target = tmp_path / "elsewhere.db"
    for suffix in ("", "-wal", "-shm"):
        (keys / f"{FILE}{suffix}").unlink(missing_ok=True)
    (keys / name).symlink_to(target)
    assert_refused(run_cli(keys, tmp_path / "x.db"), name, "symbolic link")
    assert not target.exists()


def test_a_fifo_in_the_keys_directory_is_refused_without_blocking(keys, tmp_path):
    for name in (FILE, "hub.pem"):
        (keys / name).unlink()
        os.mkfifo(keys / name)
    assert_refused(run_cli(keys, tmp_path / "x.db"), "not a regular file")
    with pytest.raises(CardsimError, match="not a regular file"):
        load_certificate(keys / "hub.pem")
    (keys / "hub.key").unlink()
    os.mkfifo(keys / "hub.key", 0o600)
    with pytest.raises(CardsimError, match="not a regular file"):
        load_private(keys / "hub.key", None)


# --- writing without following links: an outsider who can write the output directory -------

def test_keys_init_refuses_a_planted_link(tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    target = tmp_path / "victim"
    (d / "hub.pem").symlink_to(target)                   # dangling: "exists" would say no
    assert_refused(cli("keys", "init", "--dir", d), "hub.pem", "symbolic link")
    assert not target.exists()
    assert_refused(cli("keys", "init", "--dir", d, "--force"), "hub.pem", "symbolic link")
    assert not target.exists() and not (d / "root-ca.key").exists()


@pytest.mark.parametrize("name", ["x.db", "x.db-wal", "x.db-journal"])
def test_run_out_refuses_a_planted_link(keys, tmp_path, name):
    target = tmp_path / "victim"
    (tmp_path / name).symlink_to(target)
    assert_refused(run_cli(keys, tmp_path / "x.db"), name, "symbolic link")
    assert not target.exists()


@pytest.mark.parametrize("name", ["r.html", "r.html.partial"])
def test_report_out_refuses_a_planted_link(warm, tmp_path, name):
    target = tmp_path / "victim"
    target.write_text("keep")
    (tmp_path / name).symlink_to(target)
    assert_refused(cli("report", warm / "first.db", "-o", tmp_path / "r.html"), name, "symbolic link")
    assert target.read_text() == "keep"


# --- the trust anchor ---------------------------------------------------------------------------

def test_a_trust_anchor_others_can_write_is_refused(warm, keys, tmp_path):
    anchor = keys / "root-ca.pem"
    anchor.chmod(0o664)
    assert_refused(cli("verify", warm / "first.db", "--keys", keys, "--quiet"), "root-ca.pem",
                   "writable by group or others")
    anchor.chmod(0o644)
    keys.chmod(0o777)
    try:
        assert_refused(cli("verify", warm / "first.db", "--keys", keys, "--quiet"), "root-ca.pem",
                       "a directory others can write")
        keys.chmod(0o1777)                               # the sticky bit: others cannot replace it
        assert cli("verify", warm / "first.db", "--keys", keys, "--quiet").exit_code == 0
    finally:
        keys.chmod(0o755)


def _name(cn):
    return x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "cardsim"),
                      x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])


def _issued(subject_key, name, issuer_key, issuer_name, ca, path_length, cert_sign, signs):
    """A certificate with the given basic constraints (None: no extension) and key usage."""
    n = _name
    b = (x509.CertificateBuilder().subject_name(n(name)).issuer_name(n(issuer_name))
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1)))
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    b = b.add_extension(x509.KeyUsage(digital_signature=signs, key_cert_sign=cert_sign,
                                      crl_sign=cert_sign, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, encipher_only=False,
                                      decipher_only=False), critical=True)
    return b.sign(issuer_key, None)


@pytest.mark.parametrize("name,ca,path_length,cert_sign,signs,problem", [
    ("root-ca", False, None, True, False, "not a CA"),
    ("root-ca", True, 0, True, False, "path length 0"),
    ("root-ca", True, None, False, True, "keyCertSign"),
    ("root-ca", None, None, True, False, "no basic constraints"),
    ("issuer-sichuan", False, None, True, True, "not a CA"),
    ("issuer-sichuan", True, 0, False, True, "keyCertSign"),
    ("merchant-sichuan-metro", True, 0, True, False, "digitalSignature"),
    ("hub", True, 0, True, True, "a CA certificate"),
    ("hub", False, None, False, False, "digitalSignature"),
])
def test_roles_come_from_basic_constraints_and_key_usage(name, ca, path_length, cert_sign, signs,
                                                         problem):
    k = ed25519.Ed25519PrivateKey.generate()
    assert problem in role_problem(_issued(k, name, k, name, ca, path_length, cert_sign, signs), name)


def test_a_root_without_ca_constraints_is_not_a_trust_anchor(tmp_path, warm):
    d = tmp_path / "k"
    d.mkdir()
    k = ed25519.Ed25519PrivateKey.generate()
    cert = _issued(k, "root-ca", k, "root-ca", False, None, True, True)
    (d / "root-ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(CardsimError, match="not a root CA certificate"):
        load_trust_anchor(d)
    assert_refused(cli("verify", warm / "first.db", "--keys", d, "--quiet"), "root-ca.pem",
                   "not a root CA certificate")


def test_a_hub_certificate_without_digital_signature_fails_verify(warm, keys, tmp_path):
    """The root key holder misissues the hub's certificate (its name right, its role wrong)."""
    ring = KeyRing.load(keys, names=["root-ca", "hub"])
    bad = _issued(ring.private["hub"], "hub", ring.private["root-ca"], "root-ca", False, None,
                  False, False)
    log = tmp_path / "l.db"
    shutil.copy(warm / "first.db", log)
    con = sqlite3.connect(log)
    with con:
        con.execute("UPDATE certificates SET body = ? WHERE subject = 'hub'",
                    (bad.public_bytes(serialization.Encoding.DER),))
    con.close()
    r = cli("verify", log, "--keys", keys, "--quiet", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert {"check": "certificates", "reason": "wrong_role:hub"}.items() <= next(
        f for f in out["findings"] if f["reason"].startswith("wrong_role")).items()


# --- the headline -------------------------------------------------------------------------------

def test_a_wrong_root_is_one_headline_not_a_finding_per_record(warm, tmp_path):
    init_keys(tmp_path / "other")
    r = cli("verify", warm / "first.db", "--keys", tmp_path / "other", "--quiet", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["wrong_root"] is True and out["headline"].startswith("wrong root certificate")
    assert out["failures"] < 20 < out["records"]
    text = cli("verify", warm / "first.db", "--keys", tmp_path / "other", "--quiet")
    assert text.exit_code == 1 and "wrong root certificate" in text.stdout


def test_an_incomplete_run_is_named_in_the_headline(warm, tmp_path):
    log = tmp_path / "l.db"
    shutil.copy(warm / "first.db", log)
    con = sqlite3.connect(log)
    with con:
        con.execute("UPDATE runs SET completed = 0")
    con.close()
    out = json.loads(cli("verify", log, "--keys", warm / "keys", "--quiet", "--json").stdout)
    assert "did not complete" in out["headline"] and out["wrong_root"] is False
    good = json.loads(cli("verify", warm / "first.db", "--keys", warm / "keys", "--quiet",
                          "--json").stdout)
    assert good["ok"] and good["headline"] is None

import base64
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from typer.testing import CliRunner

from cardsim.cli.app import app
from cardsim.errors import CardsimError
from cardsim.signing.keys import (SCRYPT_N, KeyRing, all_names, card_keys, encrypt_pkcs8,
                                  init_keys, load_private)

runner = CliRunner()


def test_layout_and_permissions(tmp_path):
    written = init_keys(tmp_path / "k")
    assert len(written) == 2 * len(all_names())
    for n in all_names():
        mode = stat.S_IMODE((tmp_path / "k" / f"{n}.key").stat().st_mode)
        assert mode == 0o600
        assert b"PRIVATE KEY" in (tmp_path / "k" / f"{n}.key").read_bytes()
        assert b"CERTIFICATE" in (tmp_path / "k" / f"{n}.pem").read_bytes()


def test_existing_keys_need_force(tmp_path):
    init_keys(tmp_path)
    before = (tmp_path / "hub.key").read_bytes()
    with pytest.raises(CardsimError, match="keys already exist; pass --force"):
        init_keys(tmp_path)
    assert (tmp_path / "hub.key").read_bytes() == before
    init_keys(tmp_path, force=True)
    assert (tmp_path / "hub.key").read_bytes() != before


def test_encrypted_keys_and_wrong_passphrase(tmp_path):
    init_keys(tmp_path, passphrase=b"correct horse battery")
    data = (tmp_path / "hub.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in data
    assert KeyRing.load(tmp_path, b"correct horse battery").algorithm.name == "ed25519"
    with pytest.raises(CardsimError, match="at least 12 characters"):
        init_keys(tmp_path / "short", passphrase=b"too short")
    with pytest.raises(CardsimError, match="wrong passphrase"):
        KeyRing.load(tmp_path, b"wrong")
    with pytest.raises(CardsimError, match="encrypted; pass --passphrase-env"):
        KeyRing.load(tmp_path, None)


def test_too_open_and_missing(tmp_path):
    init_keys(tmp_path)
    (tmp_path / "hub.key").chmod(0o644)
    with pytest.raises(CardsimError, match="too open"):
        load_private(tmp_path / "hub.key", None)
    (tmp_path / "issuer-sichuan.key").unlink()
    with pytest.raises(CardsimError, match="missing; create keys"):
        KeyRing.load(tmp_path)


def test_card_keys_are_derived_deterministically(tmp_path):
    init_keys(tmp_path, algorithm="ecdsa-p256")
    ring = KeyRing.load(tmp_path)
    a, b = card_keys(ring, "sichuan"), card_keys(ring, "sichuan", capacity=1)
    assert a.get("510000000001")[1] == b.get("510000000001")[1]
    b.get("510000000002")
    assert b.get("510000000001")[1] == a.get("510000000001")[1]   # re-derived after eviction
    assert a.get("510000000001")[1] != a.get("510000000002")[1]
    assert card_keys(ring, "chongqing").get("510000000001")[1] != a.get("510000000001")[1]
    assert "secret" not in repr(a) and repr(a).startswith("DerivedKeys")


def test_cli_keys_init(tmp_path, monkeypatch):
    r = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "k"), "--algorithm", "ecdsa-p256"])
    assert r.exit_code == 0 and "ecdsa-p256" in r.stdout
    r = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "k")])
    assert r.exit_code == 2 and "pass --force" in r.stderr
    r = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "j"), "--algorithm", "sm2"])
    assert r.exit_code == 2 and "must be one of ed25519, ecdsa-p256" in r.stderr
    r = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "j"), "--passphrase-env", "NOPE_X"])
    assert r.exit_code == 2 and "NOPE_X: environment variable is not set" in r.stderr
    monkeypatch.setenv("KP", "s3cret")
    r = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "e"), "--passphrase-env", "KP"])
    assert r.exit_code == 2 and "at least 12 characters" in r.stderr and "s3cret" not in r.output
    monkeypatch.setenv("KP", "s3cret-and-longer")
    r = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "e"), "--passphrase-env", "KP"])
    assert r.exit_code == 0
    assert "s3cret" not in r.output


def test_derived_keys_use_hkdf_sha256():
    """The one-HMAC shortcut in DerivedKeys is RFC 5869 HKDF-SHA256, as pyca computes it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cardsim.signing.crypto import ALGORITHMS
    from cardsim.signing.keys import DerivedKeys
    for name, alg in ALGORITHMS.items():
        d = DerivedKeys(alg, b"s" * 32, b"cardsim/card-key/v1")
        for ident in ("510000000042", "SC-MET-001-01", "\u6210\u90fd"):
            seed = HKDF(hashes.SHA256(), 32, b"cardsim/card-key/v1", ident.encode()).derive(b"s" * 32)
            want = alg.public_bytes(alg.from_seed(seed) if name == "ed25519"
                                    else alg.from_seed(seed).public_key())
            assert d.get(ident)[1] == want, (name, ident)


def test_encrypted_keys_use_scrypt(tmp_path):
    """PKCS#8 PBES2 with scrypt (N 2**14, r 8, p 1) and AES-256-CBC, not pyca's PBKDF2 with 2,048
    iterations: the parameters read back from the file's DER."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = encrypt_pkcs8(key, b"a long enough passphrase")
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    assert bytes.fromhex("06092b06010401da47040b") in der            # the scrypt OID
    assert bytes.fromhex("0202") + SCRYPT_N.to_bytes(2, "big") in der  # N = 16384
    assert bytes.fromhex("060960864801650304012a") in der            # aes256-CBC
    back = serialization.load_pem_private_key(pem, b"a long enough passphrase")
    assert back.private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, b"another long passphrase")

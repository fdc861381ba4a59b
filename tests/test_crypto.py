import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from cardsim.signing.crypto import ALGORITHMS, ECDSA_P256, ED25519, _P256_N


@pytest.mark.parametrize("alg", ALGORITHMS.values(), ids=lambda a: a.name)
def test_sign_verify_deterministic(alg):
    k = alg.from_seed(os.urandom(32))
    pub = alg.load_public(alg.public_bytes(k if hasattr(k, "public") else k.public_key()))
    sig = alg.sign(k, b"m")
    assert sig == alg.sign(k, b"m") and len(sig) == 64
    assert alg.verify(pub, sig, b"m")
    assert not alg.verify(pub, sig, b"n")
    for bad in (sig[:-1], sig + b"\x00", b"", None, b"\x00" * 64, sig[:32] + bytes(32)):
        assert not alg.verify(pub, bad, b"m")


def test_libsodium_and_openssl_ed25519_sign_the_same_bytes():
    seed = os.urandom(32)
    fast = ED25519.from_seed(seed)
    slow = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    assert fast.sign(b"abc") == slow.sign(b"abc")
    assert ED25519.signing_key(slow).sign(b"x") == slow.sign(b"x")
    # messages of every length, including past the reused output buffer, and empty ones
    for n in (0, 1, 63, 64, 4031, 4032, 4033, 10_000, 100):
        m = os.urandom(n)
        assert fast.sign(m) == slow.sign(m), n


def test_ecdsa_high_s_is_rejected():
    k = ECDSA_P256.from_seed(os.urandom(32))
    pub = k.public_key()
    sig = ECDSA_P256.sign(k, b"m")
    s = int.from_bytes(sig[32:], "big")
    assert s <= _P256_N // 2                                   # we sign low-S
    high = sig[:32] + (_P256_N - s).to_bytes(32, "big")        # also a valid ECDSA signature
    assert not ECDSA_P256.verify(pub, high, b"m")


def test_ed25519_s_at_least_l_is_rejected():
    L = 2**252 + 27742317777372353535851937790883648493
    k = ED25519.from_seed(os.urandom(32))
    pub = k.public_key()
    sig = ED25519.sign(k, b"m")
    s = int.from_bytes(sig[32:], "little")
    forged = sig[:32] + (s + L).to_bytes(32, "little")
    assert not ED25519.verify(pub, forged, b"m")


def test_public_key_parsing():
    with pytest.raises(ValueError):
        ED25519.load_public(b"short")
    with pytest.raises(ValueError):
        ECDSA_P256.load_public(b"\x02" + b"\xff" * 32)

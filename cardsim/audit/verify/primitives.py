"""The verifier's primitives: signature checks, public keys and certificate bodies as the log
holds them (any value may be of the wrong type: a tampered log is data, never an exception)."""

from __future__ import annotations

from typing import Callable

from cryptography.hazmat.primitives import serialization
from nacl import bindings
from nacl.exceptions import BadSignatureError

from cardsim.records import encoding as E
from cardsim.signing.crypto import Algorithm


def read_text(b: bytes) -> str:
    """SQLite text factory keeping undecodable bytes (they become findings, not errors)."""
    return b.decode("utf-8", "surrogateescape")


def verifier_keys(ca_keys: dict, alg: Algorithm) -> dict:
    """name -> public key as :func:`fast_verifier` takes it (Ed25519: raw bytes for libsodium)."""
    keys = {n: serialization.load_der_public_key(der) for n, der in ca_keys.items()}
    if alg.name == "ed25519":
        return {n: k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                for n, k in keys.items()}
    return keys


def fast_verifier(alg: Algorithm) -> Callable[[object, object, bytes], bool]:
    """Ed25519: libsodium's verification, stricter than OpenSSL's (canonical S and points) and
    about twice as fast here: a faster trusted primitive. ECDSA: pyca/cryptography."""
    if alg.name != "ed25519":
        return alg.verify
    open_ = bindings.crypto_sign_open

    def verify(pub: bytes, sig, msg: bytes) -> bool:
        if not isinstance(sig, bytes) or len(sig) != 64:
            return False
        try:
            open_(sig + msg, pub)
            return True
        except (BadSignatureError, ValueError):
            return False
    return verify


def certificate_fields(body, sig, role: int, types: tuple) -> list | None:
    """The fields of a certificate body of ``role`` whose values have ``types``, or None when the
    body or signature is malformed."""
    if not isinstance(body, bytes) or not isinstance(sig, bytes):
        return None
    try:
        got, v = E.decode(body)
    except E.EncodingError:
        return None
    if got != role or len(v) != len(types) or not all(isinstance(x, t) for x, t in zip(v, types)):
        return None
    return v


def subject_key(alg: Algorithm, pub: bytes):
    """A certified public key as :func:`fast_verifier` takes it, or None when it is unusable."""
    try:
        key = alg.load_public(pub)
    except ValueError:
        return None
    return pub if alg.name == "ed25519" else key

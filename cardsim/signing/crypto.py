"""Signature algorithms behind one small interface, so the algorithm stays a parameter.

- ``ed25519`` (default): deterministic by construction; pyca/cryptography rejects S >= L.
- ``ecdsa-p256``: deterministic signing (RFC 6979). Signatures are stored as fixed 64-byte r || s
  with s normalised to the lower half (low-S); verification rejects anything else, so one message
  has exactly one valid signature encoding.
- SM2 (the Chinese national standard used by PBOC cards) is not in pyca/cryptography. It would be
  added as a third :class:`Algorithm` here; nothing else names an algorithm.

Performance shortcut: Ed25519 signing goes through libsodium (PyNaCl, also maintained by PyCA),
which signs 1.5x and derives keys 1.8x faster than OpenSSL here. Ed25519 signatures are
deterministic, so both produce the same bytes (tested); keys on disk, certificates and every
verification stay with pyca/cryptography.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

from nacl import bindings as _nacl
from nacl._sodium import ffi as _ffi, lib as _lib

_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


class _SignedBuffer:
    """The output buffer of crypto_sign (signature || message), grown on demand."""

    def __init__(self, size: int) -> None:
        self.grow(size)

    def grow(self, size: int) -> None:
        self.size = max(size, 4096)
        self.buf = _ffi.new(f"unsigned char[{self.size}]")
        self.sig = _ffi.buffer(self.buf, 64)


_SIGNED = _SignedBuffer(4096)


class FastEd25519Key:
    """An Ed25519 signing key held as libsodium's 64-byte secret (seed || public key)."""

    __slots__ = ("_sk", "public")

    def __init__(self, seed: bytes):
        # The public key is always derived from the seed here, never passed in: libsodium signs
        # with the public key stored in the secret, and an Ed25519 signature made with a wrong
        # public key, next to a genuine one, reveals the private key.
        self.public, self._sk = _nacl.crypto_sign_seed_keypair(seed)

    def sign(self, message: bytes) -> bytes:
        # Performance shortcut: libsodium's crypto_sign called directly into one reused buffer
        # (PyNaCl's wrapper allocates and copies the whole signed message); the first 64 bytes
        # of its output are the signature. One buffer per process: cardsim signs in processes.
        n = len(message) + 64
        if n > _SIGNED.size:
            _SIGNED.grow(n)
        if _lib.crypto_sign(_SIGNED.buf, _ffi.NULL, message, len(message), self._sk) != 0:
            raise RuntimeError("libsodium crypto_sign failed")
        return _SIGNED.sig[:]

    def public_key(self):
        return ed25519.Ed25519PublicKey.from_public_bytes(self.public)

    def __repr__(self) -> str:  # never shows key material
        return "FastEd25519Key(...)"


@dataclass(frozen=True)
class Algorithm:
    name: str               # recorded in certificates and the log

    # --- keys ---
    def generate(self):
        if self.name == "ed25519":
            return ed25519.Ed25519PrivateKey.generate()
        return ec.generate_private_key(ec.SECP256R1())

    def from_seed(self, seed: bytes):
        """A private key determined by 32+ bytes of key material (for derived card keys)."""
        if self.name == "ed25519":
            return FastEd25519Key(seed[:32])
        scalar = int.from_bytes(seed, "big") % (_P256_N - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def signing_key(self, private_key):
        """The fastest equivalent signing key (Ed25519: libsodium) for a loaded private key."""
        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            return FastEd25519Key(private_key.private_bytes_raw())
        return private_key

    def public_bytes(self, public_key) -> bytes:
        if isinstance(public_key, FastEd25519Key):
            return public_key.public
        if self.name == "ed25519":
            return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return public_key.public_bytes(serialization.Encoding.X962,
                                       serialization.PublicFormat.CompressedPoint)

    def load_public(self, data: bytes):
        """Parse public key bytes; raises ValueError when they are not a valid key."""
        if self.name == "ed25519":
            if len(data) != 32:
                raise ValueError("Ed25519 public key must be 32 bytes")
            return ed25519.Ed25519PublicKey.from_public_bytes(data)
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)

    # --- signatures ---
    def sign(self, private_key, message: bytes) -> bytes:
        if self.name == "ed25519":
            return private_key.sign(message)   # FastEd25519Key or pyca key: the same bytes
        r, s = decode_dss_signature(private_key.sign(message, _ECDSA))
        if s > _P256_N // 2:
            s = _P256_N - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public_key, signature: bytes, message: bytes) -> bool:
        """True only for the one canonical signature of ``message`` under ``public_key``."""
        if not isinstance(signature, (bytes, bytearray)) or len(signature) != 64:
            return False
        try:
            if self.name == "ed25519":
                public_key.verify(bytes(signature), message)
                return True
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            if not (0 < r < _P256_N and 0 < s <= _P256_N // 2):
                return False  # out of range or high-S: not canonical
            public_key.verify(encode_dss_signature(r, s), message, _ECDSA)
            return True
        except (InvalidSignature, ValueError, TypeError):
            return False

    def x509_hash(self):
        """The hash argument for signing X.509 certificates with this algorithm."""
        return None if self.name == "ed25519" else hashes.SHA256()


ED25519 = Algorithm("ed25519")
ECDSA_P256 = Algorithm("ecdsa-p256")
ALGORITHMS = {a.name: a for a in (ED25519, ECDSA_P256)}


def algorithm_of(private_or_public_key) -> Algorithm:
    if isinstance(private_or_public_key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return ED25519
    return ECDSA_P256

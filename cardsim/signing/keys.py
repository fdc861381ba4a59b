"""Keys and certificates: the hierarchy, key files, and derived card and terminal keys.

Hierarchy (EMV-like)::

    root CA (X.509, self-signed)
    ├── issuer CA per province (X.509, CA)  -> card certificates (compact, encoding.CARD_CERT)
    ├── merchant/acquirer per operator (X.509, CA) -> terminal certificates (compact,
    │   encoding.TERMINAL_CERT); terminals sign their upload batches (encoding.UPLOAD)
    └── hub (X.509): owns the log (signs checkpoints) and signs stand-in responses

Files in the keys directory: ``NAME.pem`` (certificate, public) and ``NAME.key`` (PKCS#8 private
key, mode 0600, encrypted when a passphrase is given). NAME is ``root-ca``, ``issuer-<province>``,
``hub`` or ``merchant-<merchant_id>``.

Simulation shortcut: millions of cards cannot each be generated and stored, so a card's key pair is
derived from its issuer's card-key secret and the card number with HKDF-SHA256. Real cards generate their keys on chip and never reveal
them. The secret is derived from the issuer's private key, so it is exactly as protected as that
key file. Terminals are made the same way from their merchant's terminal-key secret and the
terminal id: how many terminals exist is a scenario parameter, not known to ``keys init``.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from cardsim.domain import PROVINCES
from cardsim.signing.crypto import ALGORITHMS, Algorithm, algorithm_of
from cardsim.errors import CardsimError
from cardsim.config.schema import SERVICE_TYPES
from cardsim.records.record import merchant_id_for

ROOT = "root-ca"
HUB = "hub"

# Fixed validity periods (documented assumptions; keys are for simulated years 2020-2045).
_CA_VALIDITY = (_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc),
                _dt.datetime(2045, 1, 1, tzinfo=_dt.timezone.utc))
_NODE_VALIDITY = (_dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc),
                  _dt.datetime(2040, 1, 1, tzinfo=_dt.timezone.utc))
#: Terminal certificates: unix seconds, inside their merchant's validity.
TERMINAL_VALIDITY = (int(_NODE_VALIDITY[0].timestamp()), int(_NODE_VALIDITY[1].timestamp()))


def issuer_name(province: str) -> str:
    return f"issuer-{province}"


def merchant_ids() -> list[str]:
    return [merchant_id_for(p, t) for p in PROVINCES for t in SERVICE_TYPES]


def merchant_name(merchant_id: str) -> str:
    return f"merchant-{merchant_id}"


def all_names() -> list[str]:
    return [ROOT] + [issuer_name(p) for p in PROVINCES] + [HUB] + [merchant_name(m) for m in merchant_ids()]


def _write_private(path: Path, key, passphrase: bytes | None) -> None:
    enc = (serialization.BestAvailableEncryption(passphrase) if passphrase
           else serialization.NoEncryption())
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cardsim"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, public_key, issuer: str, signing_key, alg: Algorithm, ca: bool,
          validity) -> x509.Certificate:
    b = (x509.CertificateBuilder()
         .subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(validity[0]).not_valid_after(validity[1])
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                      content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False,
                                      encipher_only=False, decipher_only=False), critical=True))
    return b.sign(signing_key, alg.x509_hash())


def keys_present(directory: Path) -> bool:
    return any((directory / f"{n}.key").exists() for n in all_names())


def _hierarchy(alg: Algorithm) -> dict[str, tuple]:
    """Every key and certificate, made in memory: name -> (private key, certificate)."""
    root_key = alg.generate()
    made = {ROOT: (root_key, _cert(ROOT, root_key.public_key(), ROOT, root_key, alg, True, _CA_VALIDITY))}
    below = ([(issuer_name(p), True, _CA_VALIDITY) for p in PROVINCES]
             + [(HUB, False, _NODE_VALIDITY)]
             + [(merchant_name(m), True, _NODE_VALIDITY) for m in merchant_ids()])
    for name, ca, validity in below:
        k = alg.generate()
        made[name] = (k, _cert(name, k.public_key(), ROOT, root_key, alg, ca, validity))
    return made


def _existing_keys(d: Path, force: bool) -> list[Path]:
    """The key files already in ``d``: an error unless ``force``."""
    if d.exists() and not d.is_dir():
        raise CardsimError(f"{d}: exists and is not a directory")
    existing = [d / f"{n}{s}" for n in all_names() for s in (".key", ".pem") if (d / f"{n}{s}").exists()]
    if existing and not force:
        raise CardsimError(f"{existing[0]}: keys already exist; pass --force to replace them")
    return existing


def init_keys(directory: str | Path, algorithm: str = "ed25519", passphrase: bytes | None = None,
              force: bool = False) -> list[Path]:
    """Create the whole hierarchy in ``directory``; returns the files written."""
    d = Path(directory)
    if algorithm not in ALGORITHMS:
        raise CardsimError(f"--algorithm: must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    existing = _existing_keys(d, force)
    d.mkdir(parents=True, exist_ok=True)
    # generate everything in memory first, so a failure leaves the old keys untouched
    made = _hierarchy(ALGORITHMS[algorithm])
    for path in existing:
        path.unlink()
    # the card register belongs to the issuer keys being replaced: it would never match again
    for suffix in ("", "-wal", "-shm"):
        (d / f"cards.db{suffix}").unlink(missing_ok=True)
    written = []
    for name, (key, cert) in made.items():
        _write_private(d / f"{name}.key", key, passphrase)
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        written += [d / f"{name}.key", d / f"{name}.pem"]
    return written


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise CardsimError(f"{path}: missing; create keys with `cardsim keys init`") from None
    except ValueError:
        raise CardsimError(f"{path}: not a PEM certificate") from None


def load_private(path: Path, passphrase: bytes | None):
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CardsimError(f"{path}: missing; create keys with `cardsim keys init`") from None
    if st.st_mode & 0o077:
        raise CardsimError(f"{path}: permissions {st.st_mode & 0o777:04o} are too open; "
                           "private keys must be 0600")
    data = path.read_bytes()
    try:
        return serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        if passphrase is None:
            raise CardsimError(f"{path}: the key is encrypted; pass --passphrase-env VAR") from None
        raise CardsimError(f"{path}: the key is not encrypted but a passphrase was given") from None
    except ValueError:
        raise CardsimError(f"{path}: wrong passphrase or not a private key") from None


def private_secret(key) -> bytes:
    """The private key's raw secret, input to HKDF for derived keys (never leaves the process)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.private_bytes_raw()
    return key.private_numbers().private_value.to_bytes(32, "big")


def _hkdf(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, info).derive(secret)


@dataclass
class KeyRing:
    """Private keys and certificates for signing, loaded from a keys directory."""

    directory: Path
    algorithm: Algorithm
    private: dict
    certs: dict

    @classmethod
    def load(cls, directory: str | Path, passphrase: bytes | None = None,
             names: list[str] | None = None) -> "KeyRing":
        d = Path(directory)
        if not d.is_dir():
            raise CardsimError(f"{d}: no such keys directory; create it with `cardsim keys init --dir {d}`")
        names = names or [n for n in all_names() if n != ROOT]
        certs = {n: load_certificate(d / f"{n}.pem") for n in all_names()}
        private = {n: load_private(d / f"{n}.key", passphrase) for n in names}
        algs = {algorithm_of(k).name for k in private.values()}
        if len(algs) != 1:
            raise CardsimError(f"{d}: keys mix algorithms ({', '.join(sorted(algs))})")
        return cls(d, ALGORITHMS[algs.pop()], private, certs)

    def card_secret(self, province: str) -> bytes:
        return _hkdf(private_secret(self.private[issuer_name(province)]),
                     b"cardsim/card-key-secret/v1", issuer_name(province).encode())

    def terminal_secret(self, merchant_id: str) -> bytes:
        name = merchant_name(merchant_id)
        return _hkdf(private_secret(self.private[name]), b"cardsim/terminal-key-secret/v1",
                     name.encode())


class DerivedKeys:
    """Lazily derived key pairs (cards or terminals) with a bounded LRU cache.

    ``get(ident)`` returns (private key, public key bytes) for ``ident`` under ``secret``.
    """

    def __init__(self, algorithm: Algorithm, secret: bytes, salt: bytes, capacity: int = 100_000):
        self.algorithm = algorithm
        # HKDF-SHA256 (RFC 5869) with a 32-byte output is one HMAC over (info || 0x01) keyed by
        # the extracted PRK = HMAC(salt, secret). Performance shortcut: the PRK is extracted once
        # here, so deriving a key costs one HMAC (tested equal to pyca's HKDF).
        self._prk = hmac.digest(salt, secret, "sha256")
        self._cache: OrderedDict[str, tuple] = OrderedDict()
        self.capacity = capacity
        self.derived = 0

    def __repr__(self) -> str:  # never show the secret
        return f"DerivedKeys({self.algorithm.name}, cached={len(self._cache)})"

    def _seed(self, ident: str) -> bytes:
        return hmac.digest(self._prk, ident.encode() + b"\x01", "sha256")

    def prime(self, ident: str, public: bytes):
        """Cache ``ident``'s key pair given its known public key (from the card register)."""
        if ident not in self._cache:
            self._cache[ident] = (self.algorithm.from_seed_and_public(self._seed(ident), public),
                                  public)
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)

    def get(self, ident: str):
        hit = self._cache.get(ident)
        if hit is not None:
            self._cache.move_to_end(ident)
            return hit
        key = self.algorithm.from_seed(self._seed(ident))
        hit = (key, self.algorithm.public_bytes(key if hasattr(key, "public") else key.public_key()))
        self._cache[ident] = hit
        self.derived += 1
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return hit


def card_keys(ring: KeyRing, province: str, capacity: int = 100_000) -> DerivedKeys:
    return DerivedKeys(ring.algorithm, ring.card_secret(province), b"cardsim/card-key/v1", capacity)


def terminal_keys(ring: KeyRing, merchant_id: str, capacity: int = 100_000) -> DerivedKeys:
    return DerivedKeys(ring.algorithm, ring.terminal_secret(merchant_id), b"cardsim/terminal-key/v1",
                       capacity)


def load_trust_anchor(directory: str | Path) -> x509.Certificate:
    """The root CA certificate: the only thing a verifier trusts."""
    d = Path(directory)
    if not d.is_dir():
        raise CardsimError(f"{d}: no such keys directory")
    return load_certificate(d / f"{ROOT}.pem")


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


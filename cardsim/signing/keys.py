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

import base64
import datetime as _dt
import hmac
import os
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.x509.oid import NameOID

from cardsim.domain import PROVINCES
from cardsim.signing.crypto import ALGORITHMS, Algorithm, algorithm_of
from cardsim.errors import CardsimError
from cardsim.files import read_regular, refuse_link, write_new
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


#: Shortest passphrase accepted for encrypting keys (characters).
MIN_PASSPHRASE = 12
#: scrypt cost for encrypted key files (RFC 7914): N = 2**14, r = 8, p = 1, 16 MiB of memory per
#: guess. OpenSSL's own ``pkcs8 -scrypt`` default and the most its command line decrypts, so
#: ``openssl pkey -in KEY`` still reads the files. Measured unlock cost in keys/README.md.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
# DER object identifiers (RFC 8018 PBES2, RFC 7914 scrypt, NIST aes256-CBC), tag and length included
_OID_PBES2 = bytes.fromhex("06092a864886f70d01050d")
_OID_SCRYPT = bytes.fromhex("06092b06010401da47040b")
#: The PEM label of an encrypted PKCS#8 key (RFC 7468, section 11), joined from its words so that
#: this file, which holds no key, does not read as one to a scanner looking for key headers.
_PEM_LABEL = b" ".join((b"ENCRYPTED", b"PRIVATE", b"KEY"))
_OID_AES256_CBC = bytes.fromhex("060960864801650304012a")


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = bytes([n]) if n < 128 else bytes([0x80 | (n.bit_length() + 7) // 8]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + size + body


def _der_seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def check_passphrase(passphrase: bytes) -> None:
    """A :class:`CardsimError` naming the rule when ``passphrase`` is too short to encrypt keys."""
    if len(passphrase.decode("utf-8", "replace")) < MIN_PASSPHRASE:
        raise CardsimError(f"passphrase: must be at least {MIN_PASSPHRASE} characters to encrypt "
                           f"keys (got {len(passphrase.decode('utf-8', 'replace'))})")


def encrypt_pkcs8(key, passphrase: bytes) -> bytes:
    """``key`` as an encrypted PKCS#8 PEM (label ``_PEM_LABEL``; PBES2 with scrypt and AES-256-CBC,
    RFC 8018 and RFC 7914): what OpenSSL's ``pkcs8 -topk8 -scrypt`` writes. pyca/cryptography's
    own encryption uses PBKDF2 with 2,048 iterations, too cheap to guess against."""
    plain = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    salt, iv = os.urandom(16), os.urandom(16)
    secret = Scrypt(salt, 32, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    data = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
    kdf = _der_seq(_OID_SCRYPT, _der_seq(_der(0x04, salt), _der_int(SCRYPT_N), _der_int(SCRYPT_R),
                                         _der_int(SCRYPT_P), _der_int(32)))
    info = _der_seq(_der_seq(_OID_PBES2, _der_seq(kdf, _der_seq(_OID_AES256_CBC, _der(0x04, iv)))),
                    _der(0x04, data))
    body = base64.encodebytes(info).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"\n".join([b"-----BEGIN " + _PEM_LABEL + b"-----", *lines,
                       b"-----END " + _PEM_LABEL + b"-----", b""])


def _write_private(path: Path, key, passphrase: bytes | None) -> None:
    data = (encrypt_pkcs8(key, passphrase) if passphrase else
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
    write_new(path, data, 0o600, "private key")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cardsim"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class Role:
    """What an X.509 certificate of the hierarchy must say about its key: a CA or not, its path
    length (how many CA levels may follow it), and its key usages."""

    ca: bool
    path_length: int | None
    cert_sign: bool          # keyCertSign (and cRLSign): certifies other keys
    digital_signature: bool  # signs messages (responses, checkpoints, uploads, totals)


#: root: certifies the CAs below it (one CA level follows); issuers and merchants: CAs of cards
#: and terminals (compact certificates, no X.509 CA below them), and signers of their own messages;
#: the hub: signs checkpoints and stand-in responses, certifies nothing.
ROLES = {"root": Role(True, 1, True, False), "issuer": Role(True, 0, True, True),
         "merchant": Role(True, 0, True, True), "hub": Role(False, None, False, True)}


def role_of(name: str) -> Role:
    """The :class:`Role` the certificate named ``name`` must have."""
    if name == ROOT:
        return ROLES["root"]
    return ROLES["hub"] if name == HUB else ROLES[name.split("-", 1)[0]]


def _cert(subject: str, public_key, issuer: str, signing_key, alg: Algorithm,
          validity) -> x509.Certificate:
    role = role_of(subject)
    b = (x509.CertificateBuilder()
         .subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(validity[0]).not_valid_after(validity[1])
         .add_extension(x509.BasicConstraints(ca=role.ca, path_length=role.path_length),
                        critical=True)
         .add_extension(x509.KeyUsage(digital_signature=role.digital_signature,
                                      key_cert_sign=role.cert_sign, crl_sign=role.cert_sign,
                                      content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False,
                                      encipher_only=False, decipher_only=False), critical=True))
    return b.sign(signing_key, alg.x509_hash())


def role_problem(cert: x509.Certificate, name: str) -> str | None:
    """Why ``cert`` cannot hold the role of ``name`` by its basic constraints and key usage
    (None: it can). The names alone prove nothing: a hub certificate renamed an issuer would
    otherwise certify cards."""
    role = role_of(name)
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return "no basic constraints or key usage"
    if bc.ca != role.ca:
        return "a CA certificate" if bc.ca else "not a CA certificate"
    if role.ca and bc.path_length is not None and bc.path_length < role.path_length:
        return f"path length {bc.path_length}, needs {role.path_length}"
    if role.cert_sign and not ku.key_cert_sign:
        return "key usage lacks keyCertSign"
    if role.digital_signature and not ku.digital_signature:
        return "key usage lacks digitalSignature"
    return None


def keys_present(directory: Path) -> bool:
    return any((directory / f"{n}.key").exists() for n in all_names())


def _hierarchy(alg: Algorithm) -> dict[str, tuple]:
    """Every key and certificate, made in memory: name -> (private key, certificate)."""
    root_key = alg.generate()
    made = {ROOT: (root_key, _cert(ROOT, root_key.public_key(), ROOT, root_key, alg, _CA_VALIDITY))}
    below = ([(issuer_name(p), _CA_VALIDITY) for p in PROVINCES] + [(HUB, _NODE_VALIDITY)]
             + [(merchant_name(m), _NODE_VALIDITY) for m in merchant_ids()])
    for name, validity in below:
        k = alg.generate()
        made[name] = (k, _cert(name, k.public_key(), ROOT, root_key, alg, validity))
    return made


def _existing_keys(d: Path, force: bool) -> list[Path]:
    """The key files already in ``d``: an error unless ``force``; a symbolic link planted at a
    key file's name is refused, with or without ``force``."""
    if d.exists() and not d.is_dir():
        raise CardsimError(f"{d}: exists and is not a directory")
    names = [d / f"{n}{s}" for n in all_names() for s in (".key", ".pem")]
    for path in names:
        refuse_link(path, "key file")
    existing = [p for p in names if p.exists()]
    if existing and not force:
        raise CardsimError(f"{existing[0]}: keys already exist; pass --force to replace them")
    return existing


def init_keys(directory: str | Path, algorithm: str = "ed25519", passphrase: bytes | None = None,
              force: bool = False) -> list[Path]:
    """Create the whole hierarchy in ``directory``; returns the files written. Every file is
    created new (never through a symbolic link); ``passphrase`` encrypts the private keys."""
    d = Path(directory)
    if algorithm not in ALGORITHMS:
        raise CardsimError(f"--algorithm: must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    if passphrase is not None:
        check_passphrase(passphrase)
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
        write_new(d / f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM), 0o644,
                  "certificate")
        written += [d / f"{name}.key", d / f"{name}.pem"]
    return written


def _read_key_file(path: Path, what: str) -> bytes:
    if not path.exists():
        raise CardsimError(f"{path}: missing; create keys with `cardsim keys init`")
    return read_regular(path, what)


def load_certificate(path: Path) -> x509.Certificate:
    """The PEM certificate at ``path`` (a regular file of at most 64 KiB)."""
    try:
        return x509.load_pem_x509_certificate(_read_key_file(path, "PEM certificate"))
    except ValueError:
        raise CardsimError(f"{path}: not a PEM certificate") from None


def load_private(path: Path, passphrase: bytes | None):
    """The private key at ``path``: a regular file of mode 0600, decrypted with ``passphrase``."""
    data = _read_key_file(path, "private key")
    mode = path.stat().st_mode
    if mode & 0o077:
        raise CardsimError(f"{path}: permissions {mode & 0o777:04o} are too open; "
                           "private keys must be 0600")
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

    def register_secret(self, province: str) -> bytes:
        """The key of the province issuer's card register tags (``register.entry_tag``)."""
        return _hkdf(private_secret(self.private[issuer_name(province)]),
                     b"cardsim/card-register-key/v1", issuer_name(province).encode())

    def terminal_secret(self, merchant_id: str) -> bytes:
        name = merchant_name(merchant_id)
        return _hkdf(private_secret(self.private[name]), b"cardsim/terminal-key-secret/v1",
                     name.encode())


class DerivedKeys:
    """Lazily derived key pairs (cards or terminals) with a bounded LRU cache.

    ``get(ident)`` returns (private key, public key bytes) for ``ident`` under ``secret``. The
    public key is always derived from the seed, never taken from outside: an Ed25519 signature
    made with a wrong public key would reveal the private key.
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
    """The root CA certificate: the only thing a verifier trusts. Refused (one line naming the
    file) when others could have written it (:func:`check_anchor_file`) or when it is not a
    self-signed CA certificate by its basic constraints and key usage."""
    d = Path(directory)
    if not d.is_dir():
        raise CardsimError(f"{d}: no such keys directory")
    path = d / f"{ROOT}.pem"
    cert = load_certificate(path)
    check_anchor_file(path)
    problem = role_problem(cert, ROOT)
    if problem is None:
        try:
            cert.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature):
            problem = "not self-signed"
    if problem is not None:
        raise CardsimError(f"{path}: not a root CA certificate ({problem})")
    return cert


def check_anchor_file(path: Path) -> None:
    """A :class:`CardsimError` when someone else than its owner could write the trust anchor:
    the file (links resolved) writable by group or others or owned by another user than the
    caller or root, or its directory writable by others without the sticky bit."""
    real = Path(os.path.realpath(path))
    st = real.stat()
    if st.st_mode & 0o022:
        raise CardsimError(f"{path}: the trust anchor is writable by group or others "
                           f"(mode {stat.S_IMODE(st.st_mode):04o}); make it 0644 or stricter")
    if st.st_uid not in (os.getuid(), 0):
        raise CardsimError(f"{path}: the trust anchor belongs to another user (uid {st.st_uid})")
    dst = real.parent.stat()
    if dst.st_mode & 0o002 and not dst.st_mode & stat.S_ISVTX:
        raise CardsimError(f"{path}: the trust anchor is in {real.parent}, a directory others can "
                           "write (without the sticky bit): anyone could replace it")


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


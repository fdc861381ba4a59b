"""Checking a proof file (``cardsim.log.proofs``) against the trust anchor alone, without the log.

A proof file is hostile input. Its shape is checked first, field by field: anything that is not
the documented JSON (not JSON, a missing or extra key, a value of the wrong type, hex that is not
lower-case hex of the right length) is a :class:`CardsimError` naming the file and the field
(exit 2). A well-formed proof is then checked, each step a reason it is invalid (exit 1):

1. the hub's certificate is issued by the trusted root, names the hub and has its role;
2. every signed tree head carries the hub's valid signature (``encoding.checkpoint_message``);
3. inclusion: the record's leaf hash, recomputed from its columns, is leaf ``leaf_index`` of the
   head's tree (``merkle.verify_inclusion``); consistency: the second head's tree extends the
   first's (``merkle.verify_consistency``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from cardsim import merkle
from cardsim.errors import CardsimError
from cardsim.files import read_regular
from cardsim.log.container import json_depth
from cardsim.log.proofs import HEAD_FIELDS, LEAF_COLUMNS, PROOF_FORMAT
from cardsim.records import encoding as E
from cardsim.signing.crypto import ALGORITHMS, algorithm_of
from cardsim.signing.keys import HUB, load_trust_anchor, role_problem

#: Largest proof file read (a proof is a few kilobytes: log2(200 million) nodes at most).
MAX_PROOF_BYTES = 1 << 20
_HEX = re.compile(r"(?:[0-9a-f]{2})*")


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of checking one proof: ``valid``, and why not (``reason``)."""

    path: str
    kind: str
    valid: bool
    reason: str | None
    log_id: str
    tree_size: int

    def as_dict(self) -> dict:
        return {"proof": self.path, "kind": self.kind, "valid": self.valid, "reason": self.reason,
                "log_id": self.log_id, "tree_size": self.tree_size}


class Invalid(Exception):
    """A well-formed proof that does not hold."""


class Fields:
    """Typed access to one JSON object of the proof, each failure naming the field (exit 2)."""

    def __init__(self, path: str, obj, where: str, keys: tuple[str, ...]):
        where_ = where or "proof"
        if not isinstance(obj, dict):
            raise CardsimError(f"{path}: {where_}: expected a JSON object")
        if set(obj) != set(keys):
            odd = sorted(set(obj) ^ set(keys))
            raise CardsimError(f"{path}: {where_}: expected the keys {', '.join(keys)}; "
                               f"{'missing or unexpected'} {', '.join(map(repr, odd[:5]))}")
        self.path, self.obj, self.where = path, obj, where

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def bad(self, key: str, expected: str) -> CardsimError:
        return CardsimError(f"{self.path}: {self.name(key)}: expected {expected}")

    def int(self, key: str, least: int = 0) -> int:
        v = self.obj[key]
        if type(v) is not int or v < least:
            raise self.bad(key, f"an integer >= {least}")
        return v

    def float(self, key: str) -> float:
        v = self.obj[key]
        if type(v) is not float:
            raise self.bad(key, "a number with a fraction or exponent (a float)")
        return v

    def str(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.obj[key]
        if type(v) is not str or (choices and v not in choices):
            raise self.bad(key, " or ".join(map(repr, choices)) if choices else "a string")
        return v

    def hex(self, key: str, size: int | None = None) -> bytes:
        return _hex(self.obj[key], size, lambda what: self.bad(key, what))

    def hashes(self, key: str) -> list[bytes]:
        v = self.obj[key]
        if not isinstance(v, list) or len(v) > 64:
            raise self.bad(key, "a list of at most 64 hashes")
        return [_hex(h, merkle.HASH_SIZE, lambda what, i=i: self.bad(f"{key}[{i}]", what))
                for i, h in enumerate(v)]


def _hex(v, size: int | None, bad) -> bytes:
    what = f"{size * 2} lower-case hex digits" if size else "lower-case hex digits"
    if type(v) is not str or not _HEX.fullmatch(v) or (size and len(v) != 2 * size):
        raise bad(what)
    return bytes.fromhex(v)


_ENVELOPE = ("format", "kind", "log_id", "algorithm", "hub_certificate")
_KEYS = {"inclusion": _ENVELOPE + ("record", "leaf_index", "tree_size", "audit_path", "tree_head"),
         "consistency": _ENVELOPE + ("first", "second", "proof")}


def load_proof(path: str | Path) -> dict:
    """The proof file's JSON object, read with bounds (size, nesting); a one-line error when it
    is not one."""
    data = read_regular(path, "proof file", MAX_PROOF_BYTES)
    try:
        text = data.decode("utf-8")
        if json_depth(text) > 8:
            raise CardsimError(f"{path}: JSON nested deeper than a proof is")
        obj = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise CardsimError(f"{path}: not a JSON proof file: {str(e).splitlines()[0][:120]}") from None
    if not isinstance(obj, dict) or obj.get("kind") not in _KEYS:
        raise CardsimError(f"{path}: kind: expected 'inclusion' or 'consistency'")
    return obj


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a proof holds")


def check_proof(path: str | Path, keys_dir: str | Path = "keys") -> ProofCheck:
    """Check the proof file at ``path`` against ``keys_dir``/root-ca.pem: a :class:`ProofCheck`
    (``valid`` or the reason not); a :class:`CardsimError` when the file or keys are unusable."""
    root = load_trust_anchor(keys_dir)
    obj = load_proof(path)
    p = str(path)
    kind = obj["kind"]
    top = Fields(p, obj, "", _KEYS[kind])
    if top.str("format") != PROOF_FORMAT:
        raise top.bad("format", repr(PROOF_FORMAT))
    alg = ALGORITHMS[top.str("algorithm", tuple(ALGORITHMS))]
    log_id = top.hex("log_id", 32)
    cert_der = top.hex("hub_certificate")
    if kind == "inclusion":
        heads = [read_head(p, obj["tree_head"], "tree_head")]
        step = _inclusion(p, top, heads[0])
    else:
        heads = [read_head(p, obj["first"], "first"), read_head(p, obj["second"], "second")]
        proof = top.hashes("proof")
        step = lambda: merkle.verify_consistency(heads[0]["tree_size"], heads[1]["tree_size"],
                                                 proof, heads[0]["root"], heads[1]["root"])
    try:
        hub = hub_key(cert_der, root, alg)
        for h in heads:
            if not alg.verify(hub, h["signature"], head_message(log_id, h)):
                raise Invalid(f"tree head {h['checkpoint']}: the hub's signature does not verify")
        step()
        reason = None
    except (Invalid, merkle.ProofError) as e:
        reason = str(e)
    return ProofCheck(p, kind, reason is None, reason, log_id.hex(), heads[-1]["tree_size"])


def head_message(log_id: bytes, h: dict) -> bytes:
    return E.checkpoint_message(log_id, h["tree_size"], h["chain_head"], h["root"], h["sim_time"],
                                h["final"])


def read_head(path: str, obj, where: str) -> dict:
    f = Fields(path, obj, where, HEAD_FIELDS)
    final = f.int("final")
    if final not in (0, 1):
        raise f.bad("final", "0 or 1")
    return {"checkpoint": f.int("checkpoint", 1), "tree_size": f.int("tree_size", 1),
            "root": f.hex("root", 32), "chain_head": f.hex("chain_head", 32),
            "sim_time": f.float("sim_time"), "final": final, "signature": f.hex("signature", 64)}


def _inclusion(path: str, top: Fields, head: dict):
    index, size = top.int("leaf_index"), top.int("tree_size", 1)
    audit_path = top.hashes("audit_path")
    values = _record_values(path, top.obj["record"])

    def step() -> None:
        if size != head["tree_size"]:
            raise Invalid(f"tree_size {size} is not the signed tree head's "
                           f"({head['tree_size']})")
        if values[0] != index + 1:
            raise Invalid(f"the record is seq {values[0]}, not leaf {index} (seq {index + 1})")
        try:
            leaf = E.record_hash(values)
        except ValueError as e:          # EncodingError included: a value no record holds
            raise Invalid(f"record: cannot be encoded: {e}") from None
        merkle.verify_inclusion(leaf, index, size, audit_path, head["root"])
    return step


def _record_values(path: str, record) -> list:
    f = Fields(path, record, "record", LEAF_COLUMNS)
    out = []
    for c in LEAF_COLUMNS:
        v = record[c]
        if isinstance(v, dict):
            v = _hex(v.get("hex") if set(v) == {"hex"} else None, None,
                     lambda what, c=c: f.bad(c, f'{{"hex": {what}}}'))
        elif v is not None and type(v) not in (int, float, str):
            raise f.bad(c, "null, a number, a string or {\"hex\": ...}")
        out.append(v)
    if type(out[0]) is not int:
        raise f.bad("seq", "an integer")
    return out


def hub_key(der: bytes, root: x509.Certificate, alg):
    """The hub's public key from its certificate, once it checks out against the root."""
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(root)
    except Exception:
        raise Invalid("hub_certificate: not issued by the trusted root") from None
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not cn or cn[0].value != HUB or role_problem(cert, HUB) is not None:
        raise Invalid("hub_certificate: does not name the hub in its role")
    key = cert.public_key()
    if algorithm_of(key) is not alg:
        raise Invalid(f"hub_certificate: not a {alg.name} key")
    return key

"""A witness: checks that each signed tree head a log shows it extends the last one it
countersigned, countersigns the new one, and keeps what it has seen in a state file.

``witness(log, witness_dir, state)``:

1. the log's hub certificate checks out against the root the witness trusts, and the log's latest
   signed tree head (the final one in a complete log) carries the hub's signature;
2. when the state holds a head of the same log (same log id), the new head extends it: an RFC 9162
   consistency proof, computed from the log's records and checked with ``merkle.verify_consistency``
   against the two roots (a shorter log, or one whose first records changed, fails);
3. with ``peers`` (other witnesses' state files) each peer's head of the same log must be in this
   log too: the log's tree at the peer's size has the peer's root. Two witnesses shown different
   logs under one log id (a split view) disagree here, and the two heads, both signed by the hub,
   are the evidence;
4. the witness signs ``COSIGN_PREFIX || checkpoint message`` of the new head with its own Ed25519
   key (``witness.key`` in its directory, created 0600 on first use) and replaces the state file
   (written whole to a temporary file, then renamed).

A failed check leaves the state as it was. ``verify --witness STATE`` (:func:`witnessed_heads`)
refuses a log whose tree does not hold a head the witness countersigned.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from cardsim import merkle
from cardsim.audit.proofs import Fields, Invalid, head_message, hub_key, read_head
from cardsim.errors import CardsimError
from cardsim.files import create_new, read_regular, refuse_link, write_new
from cardsim.log.container import json_depth
from cardsim.log.proofs import LogProver
from cardsim.signing.crypto import ALGORITHMS, ED25519
from cardsim.signing.keys import load_private, load_trust_anchor

WITNESS_FORMAT = "cardsim-witness/1"
#: Prefixed to the checkpoint message a witness signs: a cosignature is never a hub signature.
COSIGN_PREFIX = b"cardsim-witness-cosignature/1\x00"
KEY_FILE = "witness.key"
MAX_STATE_BYTES = 16 << 20


@dataclass(frozen=True)
class Seen:
    """One log's head in a witness state: the head (``proofs.read_head`` form) and the cosignature."""

    log_id: bytes
    head: dict
    cosignature: bytes


@dataclass(frozen=True)
class State:
    witness: bytes                           # the witness's raw Ed25519 public key
    logs: dict = field(default_factory=dict)  # log id (bytes) -> Seen

    def cosigned(self, seen: Seen) -> bool:
        msg = COSIGN_PREFIX + head_message(seen.log_id, seen.head)
        return ED25519.verify(ED25519.load_public(self.witness), seen.cosignature, msg)


@dataclass(frozen=True)
class WitnessResult:
    log: str
    log_id: str
    ok: bool
    tree_size: int
    previous_size: int | None
    reason: str | None = None
    notes: tuple = ()

    def as_dict(self) -> dict:
        return {"log": self.log, "log_id": self.log_id, "ok": self.ok, "tree_size": self.tree_size,
                "previous_size": self.previous_size, "reason": self.reason,
                "notes": list(self.notes)}


def witness_key(directory: str | Path) -> ed25519.Ed25519PrivateKey:
    """The witness's private key, created in ``directory`` (mode 0600) on first use."""
    d = Path(directory)
    path = d / KEY_FILE
    if not path.exists() and not path.is_symlink():
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        write_new(path, key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()), 0o600, "private key")
    key = load_private(path, None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise CardsimError(f"{path}: not an Ed25519 private key")
    return key


def load_state(path: str | Path) -> State | None:
    """The witness state at ``path`` (None when there is none yet); one line when it is unusable."""
    p = str(path)
    if not os.path.lexists(path):
        return None
    data = read_regular(path, "witness state", MAX_STATE_BYTES)
    try:
        text = data.decode("utf-8")
        if json_depth(text) > 8:
            raise ValueError("nested too deep")
        obj = json.loads(text)
    except ValueError as e:
        raise CardsimError(f"{p}: not a witness state file: {str(e).splitlines()[0][:120]}") from None
    top = Fields(p, obj, "", ("format", "witness", "logs"))
    if top.str("format") != WITNESS_FORMAT:
        raise top.bad("format", repr(WITNESS_FORMAT))
    pub = top.hex("witness", 32)
    if not isinstance(obj["logs"], dict):
        raise top.bad("logs", "an object: log id -> its head")
    logs = {}
    for lid, entry in obj["logs"].items():
        log_id = _log_id(p, lid)
        e = Fields(p, entry, f"logs.{lid[:16]}", ("head", "cosignature"))
        logs[log_id] = Seen(log_id, read_head(p, entry["head"], f"logs.{lid[:16]}.head"),
                            e.hex("cosignature", 64))
    return State(pub, logs)


def _log_id(path: str, text) -> bytes:
    if not (isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)):
        raise CardsimError(f"{path}: logs: keys must be log ids (64 lower-case hex digits)")
    return bytes.fromhex(text)


def save_state(path: str | Path, state: State) -> None:
    """Replace the state file whole: written to a new temporary file, then renamed over it."""
    refuse_link(path, "witness state")
    obj = {"format": WITNESS_FORMAT, "witness": state.witness.hex(), "logs": {
        lid.hex(): {"head": _head_json(s.head), "cosignature": s.cosignature.hex()}
        for lid, s in sorted(state.logs.items())}}
    tmp = Path(f"{path}.{os.getpid()}.tmp")
    fd = create_new(tmp, 0o644, "witness state")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(obj, indent=1) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _head_json(h: dict) -> dict:
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in h.items()}


def witness(log: str | Path, witness_dir: str | Path, state_path: str | Path,
            anchor_dir: str | Path | None = None, peers=()) -> WitnessResult:
    """Check the log's latest head against the state (and ``peers``), countersign it, save the
    state (see the module documentation). ``anchor_dir`` holds root-ca.pem (default:
    ``witness_dir``)."""
    root = load_trust_anchor(anchor_dir if anchor_dir is not None else witness_dir)
    key = witness_key(witness_dir)
    pub = ED25519.public_bytes(key.public_key())
    state = load_state(state_path) or State(pub)
    if state.witness != pub:
        raise CardsimError(f"{state_path}: the state of another witness (its key is not "
                           f"{Path(witness_dir) / KEY_FILE})")
    peer_states = witnessed_heads(peers)          # a peer state that is not there: bad input
    with LogProver(log) as prover:
        env = prover.envelope("head")
        log_id = bytes.fromhex(env["log_id"])
        head = read_head(str(log), prover.head(), "latest head")
        old = state.logs.get(log_id)
        try:
            _check_head(env, head, root, log_id)
            if old is not None:
                _extends(prover, old.head, head)
            notes = [_against_peer(prover, name, ps, log_id, head) for name, ps in peer_states]
        except (Invalid, merkle.ProofError) as e:
            return WitnessResult(str(log), log_id.hex(), False, head["tree_size"],
                                 old.head["tree_size"] if old else None, str(e))
    sig = key.sign(COSIGN_PREFIX + head_message(log_id, head))
    save_state(state_path, State(pub, {**state.logs, log_id: Seen(log_id, head, sig)}))
    return WitnessResult(str(log), log_id.hex(), True, head["tree_size"],
                         old.head["tree_size"] if old else None, None,
                         tuple(n for n in notes if n))


def _check_head(env: dict, head: dict, root, log_id: bytes) -> None:
    alg = ALGORITHMS.get(env["algorithm"])
    if alg is None:
        raise Invalid(f"the log's algorithm {env['algorithm']!r} is not one cardsim knows")
    hub = hub_key(bytes.fromhex(env["hub_certificate"]), root, alg)
    if not alg.verify(hub, head["signature"], head_message(log_id, head)):
        raise Invalid(f"tree head {head['checkpoint']}: the hub's signature does not verify")


def _extends(prover: LogProver, old: dict, new: dict) -> None:
    """The log's new head extends the head the witness countersigned before."""
    n1, n2 = old["tree_size"], new["tree_size"]
    if n2 < n1:
        raise Invalid(f"the log's head has {n2} records, fewer than the {n1} this witness "
                      "countersigned: its history was cut")
    proof = [prover.subtree_root(a, b) for a, b in merkle.consistency_ranges(n1, n2)]
    try:
        merkle.verify_consistency(n1, n2, proof, old["root"], new["root"])
    except merkle.ProofError:
        raise Invalid(f"the log at size {n2} is not consistent with the head of size {n1} this "
                      "witness countersigned: a rewritten history or a split view") from None


def _against_peer(prover: LogProver, name: str, peer: State, log_id: bytes,
                  head: dict) -> str | None:
    """A peer witness's head of this log must be in it; a note when the peer saw more."""
    seen = peer.logs.get(log_id)
    if seen is None:
        return f"{name}: has no head of this log"
    if not peer.cosigned(seen):
        return f"{name}: its head of this log carries no valid cosignature; ignored"
    size = seen.head["tree_size"]
    if size > head["tree_size"]:
        return f"{name}: saw {size} records, more than this log's {head['tree_size']}"
    if prover.subtree_root(0, size) != seen.head["root"]:
        raise Invalid(f"split view: {name} countersigned a head of size {size} whose root is not "
                      "this log's: the hub signed two different logs under one log id")
    return None


def witnessed_heads(paths) -> list[tuple[str, State]]:
    """The witness states ``verify --witness`` checks a log against (read before the log)."""
    out = []
    for p in paths:
        st = load_state(p)
        if st is None:
            raise CardsimError(f"{p}: no such witness state file")
        out.append((str(p), st))
    return out


def heads_of(states: list[tuple[str, State]], log_id: bytes) -> list[tuple[str, Seen, bool]]:
    """(state name, the head it holds of ``log_id``, whether its cosignature verifies)."""
    return [(name, st.logs[log_id], st.cosigned(st.logs[log_id]))
            for name, st in states if log_id in st.logs]


def judge(seen: list[tuple[str, Seen, bool]], heads_at: dict, n: int) -> list[str | None]:
    """For each witnessed head, why the log (``n`` records; ``heads_at``: size -> (chain head,
    tree root)) contradicts it, or None when the log's tree holds it."""
    out: list[str | None] = []
    for name, s, cosigned in seen:
        size = s.head["tree_size"]
        if not cosigned:
            out.append(f"bad_cosignature:{name}")
        elif size > n:
            out.append(f"shorter_than_witnessed:{size}:{name}")
        elif heads_at.get(size, (None, None))[1] != s.head["root"]:
            out.append(f"inconsistent_with_witnessed_head:{size}:{name}")
        else:
            out.append(None)
    return out

"""The published test vectors (tests/vectors/vectors.json) must match the code, byte for byte."""

import json
from pathlib import Path

import pytest

from cardsim import merkle as M
from cardsim.records import encoding as E
from cardsim.signing.crypto import ALGORITHMS

V = json.loads((Path(__file__).parent / "vectors" / "vectors.json").read_text())
ROLE = {"card_tx": E.CARD_TX, "auth_response": E.AUTH_RESPONSE, "card_cert": E.CARD_CERT,
        "checkpoint": E.CHECKPOINT, "terminal_cert": E.TERMINAL_CERT, "upload": E.UPLOAD,
        "blacklist": E.BLACKLIST, "merchant_totals": E.MERCHANT_TOTALS, "card_state": E.CARD_STATE}
SIGNER = {"card_tx": "card", "auth_response": "issuer", "card_cert": "issuer", "checkpoint": "hub",
          "terminal_cert": "merchant", "upload": "terminal", "blacklist": "issuer",
          "merchant_totals": "merchant", "card_state": "hub"}


def values(vs):
    return [bytes.fromhex(v["bytes_hex"]) if isinstance(v, dict) else v for v in vs]


@pytest.mark.parametrize("vec", V["vectors"], ids=lambda v: f"{v['algorithm']}-{v['role']}")
def test_vector(vec):
    alg = ALGORITHMS[vec["algorithm"]]
    data = E.encode(ROLE[vec["role"]], values(vec["values"]))
    assert data.hex() == vec["encoding_hex"]
    seed = bytes.fromhex(V["seeds_hex"][SIGNER[vec["role"]]])
    key = alg.from_seed(seed)
    pub = alg.public_bytes(key if hasattr(key, "public") else key.public_key())
    assert pub.hex() == vec["public_key_hex"]
    sig = bytes.fromhex(vec["signature_hex"])
    assert alg.sign(key, data) == sig                       # deterministic signing
    assert alg.verify(alg.load_public(pub), sig, data)
    assert not alg.verify(alg.load_public(pub), sig, data + b"\x00")


def test_record_and_genesis_vectors():
    rec = V["record"]
    data = E.record_message(values(rec["values"]))
    assert data.hex() == rec["encoding_hex"]
    assert E.sha256(b"\x00" + data).hex() == rec["record_hash_hex"]        # its Merkle leaf hash
    assert E.record_hash(values(rec["values"])).hex() == rec["record_hash_hex"]
    assert M.leaf_hash(data).hex() == rec["record_hash_hex"]
    lk = V["link"]
    head, rh = bytes.fromhex(lk["head_before_hex"]), bytes.fromhex(lk["record_hash_hex"])
    assert rh.hex() == rec["record_hash_hex"]
    assert E.encode(E.LINK, (head, rh)).hex() == lk["encoding_hex"]
    assert E.link(head, rh).hex() == lk["head_after_hex"] == E.sha256(bytes.fromhex(lk["encoding_hex"])).hex()
    lr = V["loss_reports_digest"]
    reports = [tuple(r) for r in lr["reports"]]
    assert [E.encode(E.LOSS_REPORT, r).hex() for r in sorted(reports)] == lr["encodings_hex"]
    assert E.loss_reports_digest(reports).hex() == lr["digest_hex"]
    td = V["terminals_digest"]
    tt = [tuple(x) for x in td["totals"]]
    assert [E.encode(E.TERMINAL_TOTAL, x).hex() for x in sorted(tt)] == td["encodings_hex"]
    assert E.terminals_digest(tt).hex() == td["digest_hex"]
    cs = V["card_states_digest"]
    rows = [tuple(r) for r in cs["rows"]]
    assert [E.encode(E.CARD_STATE_ROW, r).hex() for r in sorted(rows)] == cs["encodings_hex"]
    assert E.card_states_digest(rows).hex() == cs["digest_hex"]
    d = V["records_digest"]
    assert E.records_digest(bytes.fromhex(h) for h in d["record_hashes_hex"]).hex() == d["digest_hex"]
    cr = V["card_request"]
    data = E.encode(E.CARD_REQUEST, values(cr["values"]))
    assert data.hex() == cr["encoding_hex"] and E.sha256(data).hex() == cr["request_hash_hex"]
    auth = next(v for v in V["vectors"] if v["role"] == "auth_response")
    tx = next(v for v in V["vectors"] if v["role"] == "card_tx")
    assert values(auth["values"])[-1].hex() == cr["request_hash_hex"]     # ARPC over the request
    assert values(tx["values"])[:len(cr["values"])] == values(cr["values"])
    assert values(tx["values"])[-1] == E.sha256(bytes.fromhex(auth["encoding_hex"]))   # TC over it
    g = V["genesis"]
    assert E.genesis_hash(g["config_json"], g["seed"]).hex() == g["hash_hex"]
    g = V["genesis_after"]
    assert E.genesis_hash(g["config_json"], g["seed"], bytes.fromhex(g["previous_hex"])).hex() == g["hash_hex"]


def test_merkle_vectors():
    m = V["merkle"]
    leaves = [bytes.fromhex(h) for h in m["leaf_hashes_hex"]]
    assert leaves[0].hex() == V["record"]["record_hash_hex"]
    assert M.root(leaves).hex() == m["root_hex"]
    inc, con = m["inclusion"], m["consistency"]
    proof = [bytes.fromhex(p) for p in inc["proof_hex"]]
    assert M.inclusion_proof(leaves, inc["index"], inc["tree_size"]) == proof
    M.verify_inclusion(leaves[inc["index"]], inc["index"], inc["tree_size"], proof,
                       bytes.fromhex(m["root_hex"]))
    proof = [bytes.fromhex(p) for p in con["proof_hex"]]
    assert M.consistency_proof(leaves, con["size1"], con["size2"]) == proof
    M.verify_consistency(con["size1"], con["size2"], proof, bytes.fromhex(con["root1_hex"]),
                         bytes.fromhex(m["root_hex"]))


def test_every_signed_role_has_vectors_for_every_algorithm():
    have = {(v["algorithm"], v["role"]) for v in V["vectors"]}
    assert have == {(a, r) for a in ALGORITHMS for r in ROLE}
    hashed_only = {E.RECORD, E.GENESIS, E.LINK, E.LOSS_REPORT, E.TERMINAL_TOTAL, E.CARD_REQUEST,
                   E.CARD_STATE_ROW}
    assert set(ROLE.values()) == set(E.ROLE_NAMES) - hashed_only

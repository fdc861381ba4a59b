"""Signed tree heads in the log, and proofs from it: inclusion and consistency proofs verify
against the root certificate alone; every change to a proof, to the log behind it or to a head is
caught; malformed proof files are bad input (exit 2), never a traceback."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from cardsim import api, merkle
from cardsim.cli.app import app
from cardsim.config.scenario import load
from cardsim.audit.verify import verify
from cardsim.records import encoding as E
from cardsim.signing.keys import HUB, KeyRing

from adversarial.support import assert_bad_input, edit, one
from conftest import ROOT

runner = CliRunner()


@pytest.fixture(scope="module")
def log(tmp_path_factory, keys_dir):
    d = tmp_path_factory.mktemp("proofs")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.02,
              sets=["simulation.duration_hours=1", "simulation.start_hour=8",
                    "simulation.checkpoint_every=97"])
    api.run(sc, out=d / "day.db", keys_dir=keys_dir, workers=1)
    return d / "day.db"


@pytest.fixture(scope="module")
def big_log(tmp_path_factory, keys_dir):
    """More than a few blocks of 1,024 records: proofs made from the stored block roots."""
    d = tmp_path_factory.mktemp("big")
    sc = load(ROOT / "scenarios" / "weekday.toml", scale=0.05,
              sets=["simulation.duration_hours=6", "simulation.start_hour=7"])
    api.run(sc, out=d / "big.db", keys_dir=keys_dir, workers=2)
    return d / "big.db"


def count(path) -> int:
    return one(path, "SELECT count(*) FROM transactions")[0]


def heads(path) -> list[int]:
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("SELECT count FROM checkpoints ORDER BY checkpoint")]
    finally:
        con.close()


def tx(path, seq) -> str:
    return one(path, f"SELECT tx_id FROM transactions WHERE seq = {seq}")[0]


def write(tmp_path, obj, name="p.json"):
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return p


# --- the tree heads in the log ---------------------------------------------------------------------

def test_every_head_is_the_merkle_root_of_the_records_it_counts(log):
    con = sqlite3.connect(log)
    hashes = [r[0] for r in con.execute("SELECT record_hash FROM transactions ORDER BY seq")]
    rows = con.execute("SELECT count, root, final FROM checkpoints ORDER BY checkpoint").fetchall()
    con.close()
    assert len(rows) > 3 and rows[-1][0] == len(hashes) and rows[-1][2] == 1
    for n, r, _ in rows:
        assert r == merkle.root(hashes[:n])


def test_a_head_resigned_over_a_wrong_root_is_caught(log, tmp_path, keys_dir):
    """The hub's key can sign anything: a head over another tree fails against the records."""
    p = tmp_path / "r.db"
    p.write_bytes(log.read_bytes())
    ring = KeyRing.load(keys_dir, names=[HUB])
    run = one(p, "SELECT config_json, seed FROM runs")
    number, n, head, t, final = one(p, "SELECT checkpoint, count, head, sim_time, final FROM "
                                       "checkpoints WHERE checkpoint = 2")
    root = bytes(32)
    sig = ring.algorithm.sign(ring.private[HUB], E.checkpoint_message(E.genesis_hash(*run), n,
                                                                      head, root, t, final))
    edit(p, "UPDATE checkpoints SET root = ?, signature = ? WHERE checkpoint = 2", root, sig)
    assert [f.reason for f in verify(p, keys_dir).findings] == ["root_mismatch:2"]


def test_a_root_edited_without_the_key_fails_its_signature(log, tmp_path, keys_dir):
    p = tmp_path / "r.db"
    p.write_bytes(log.read_bytes())
    edit(p, "UPDATE checkpoints SET root = ? WHERE final = 1", bytes(32))
    reasons = [f.reason for f in verify(p, keys_dir).findings]
    assert any(r.startswith("bad_signature:") for r in reasons) and "no_final_checkpoint" in reasons


def test_stored_block_roots_are_the_roots_of_the_blocks_and_proofs_use_them(big_log, keys_dir,
                                                                          tmp_path):
    from cardsim.log.chain import BLOCK
    con = sqlite3.connect(big_log)
    hashes = [r[0] for r in con.execute("SELECT record_hash FROM transactions ORDER BY seq")]
    blocks = con.execute("SELECT block, root FROM tree_blocks ORDER BY block").fetchall()
    con.close()
    assert len(blocks) == len(hashes) // BLOCK >= 4
    assert all(r == merkle.root(hashes[k * BLOCK:(k + 1) * BLOCK]) for k, r in blocks)
    n = len(hashes)
    for seq in (1, BLOCK + 7, n - 3):
        assert api.check_proof(write(tmp_path, api.prove_inclusion(big_log, tx(big_log, seq))),
                               keys_dir).valid
    p = tmp_path / "b.db"
    p.write_bytes(big_log.read_bytes())
    edit(p, "UPDATE tree_blocks SET root = ? WHERE block = 1", bytes(32))
    assert [f.reason for f in verify(p, keys_dir).findings] == ["tree_block_mismatch:1"]
    assert not api.check_proof(write(tmp_path, api.prove_inclusion(p, tx(p, 3))), keys_dir).valid
    edit(p, "DELETE FROM tree_blocks WHERE block = 1")          # proofs fall back to the leaves
    assert [f.reason for f in verify(p, keys_dir).findings] == ["tree_block_missing:1"]
    assert api.check_proof(write(tmp_path, api.prove_inclusion(p, tx(p, 3))), keys_dir).valid


# --- inclusion and consistency proofs -----------------------------------------------------------

def test_inclusion_proofs_verify_for_the_first_last_and_middle_records(log, keys_dir, tmp_path):
    n = count(log)
    for seq in sorted({1, 2, n // 2, n - 1, n}):
        proof = api.prove_inclusion(log, tx(log, seq))
        assert proof["leaf_index"] == seq - 1 and proof["tree_size"] == n
        assert proof["tree_head"]["final"] == 1
        got = api.check_proof(write(tmp_path, proof), keys_dir)
        assert got.valid and got.reason is None and got.tree_size == n


def test_consistency_proofs_verify_between_every_pair_of_signed_heads(log, keys_dir, tmp_path):
    sizes = heads(log)
    for a in sizes[::2]:
        for b in sizes:
            if a <= b:
                got = api.check_proof(write(tmp_path, api.prove_consistency(log, a, b)), keys_dir)
                assert got.valid, (a, b, got.reason)


def test_cli_prove_and_check(log, keys_dir, tmp_path):
    r = runner.invoke(app, ["prove", "inclusion", str(log), "--tx", tx(log, 5)])
    assert r.exit_code == 0, r.output
    p = write(tmp_path, r.stdout)
    r = runner.invoke(app, ["check-proof", str(p), "--keys", str(keys_dir), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] is True
    sizes = heads(log)
    r = runner.invoke(app, ["prove", "consistency", str(log), "--from", str(sizes[0]),
                            "--to", str(sizes[-1])])
    assert r.exit_code == 0
    r = runner.invoke(app, ["check-proof", str(write(tmp_path, r.stdout)), "--keys", str(keys_dir)])
    assert r.exit_code == 0 and r.stdout.startswith("valid consistency proof")


def _flip(h: str, i: int) -> str:
    b = bytearray.fromhex(h)
    b[i // 8 % len(b)] ^= 1 << (i % 8)
    return b.hex()


def _mutations(proof: dict):
    """(name, changed proof) for every change that must make the proof invalid."""
    def changed(fn):
        p = json.loads(json.dumps(proof))
        fn(p)
        return p
    path = proof["audit_path"]
    for i in range(len(path)):
        for bit in (0, 131, 255):
            yield f"path[{i}] bit {bit}", changed(lambda p: p["audit_path"].__setitem__(i, _flip(path[i], bit)))
        yield f"drop path[{i}]", changed(lambda p: p["audit_path"].pop(i))
    yield "extra node", changed(lambda p: p["audit_path"].append(path[0]))
    yield "truncated to nothing", changed(lambda p: p["audit_path"].clear())
    yield "another index", changed(lambda p: p.update(leaf_index=p["leaf_index"] + 1))
    yield "another amount", changed(lambda p: p["record"].update(amount_fen=p["record"]["amount_fen"] + 1))
    yield "another seq", changed(lambda p: p["record"].update(seq=p["record"]["seq"] + 1))
    yield "root bit", changed(lambda p: p["tree_head"].update(root=_flip(p["tree_head"]["root"], 9)))
    yield "tree size", changed(lambda p: p["tree_head"].update(tree_size=p["tree_head"]["tree_size"] - 1))
    yield "signature bit", changed(lambda p: p["tree_head"].update(
        signature=_flip(p["tree_head"]["signature"], 77)))
    yield "log id", changed(lambda p: p.update(log_id=_flip(p["log_id"], 3)))
    yield "chain head", changed(lambda p: p["tree_head"].update(chain_head=_flip(p["tree_head"]["chain_head"], 1)))
    yield "hub certificate", changed(lambda p: p.update(hub_certificate=_flip(p["hub_certificate"], 900)))


def test_every_change_to_an_inclusion_proof_makes_it_invalid(log, keys_dir, tmp_path):
    proof = api.prove_inclusion(log, tx(log, count(log) // 3))
    for name, bad in _mutations(proof):
        r = runner.invoke(app, ["check-proof", str(write(tmp_path, bad)), "--keys", str(keys_dir)])
        assert r.exit_code == 1, (name, r.output)
        assert r.stdout.startswith("INVALID"), name


def test_every_change_to_a_consistency_proof_makes_it_invalid(log, keys_dir, tmp_path):
    sizes = heads(log)
    proof = api.prove_consistency(log, sizes[2], sizes[-1])
    assert proof["proof"]
    for i in range(len(proof["proof"])):
        for bad in ([*proof["proof"][:i], _flip(proof["proof"][i], 200), *proof["proof"][i + 1:]],
                    proof["proof"][:i] + proof["proof"][i + 1:]):
            got = api.check_proof(write(tmp_path, {**proof, "proof": bad}), keys_dir)
            assert not got.valid, i
    swapped = {**proof, "first": proof["second"], "second": proof["first"]}
    assert not api.check_proof(write(tmp_path, swapped), keys_dir).valid


def test_a_proof_from_another_root_or_a_tampered_log_is_invalid(log, keys_dir, tmp_path):
    other = tmp_path / "other-keys"
    api.init_keys(other)
    proof = write(tmp_path, api.prove_inclusion(log, tx(log, 3)))
    got = api.check_proof(proof, other)
    assert not got.valid and "trusted root" in got.reason
    p = tmp_path / "t.db"
    p.write_bytes(log.read_bytes())
    edit(p, "UPDATE transactions SET amount_fen = amount_fen + 1 WHERE seq = 4")
    got = api.check_proof(write(tmp_path, api.prove_inclusion(p, tx(p, 4))), keys_dir)
    assert not got.valid                       # the edited record is not the signed tree's leaf
    edit(p, "UPDATE transactions SET record_hash = ? WHERE seq = 9", bytes(32))
    got = api.check_proof(write(tmp_path, api.prove_inclusion(p, tx(p, 3))), keys_dir)
    assert not got.valid                       # a neighbour's hash changed: the path breaks


def test_proofs_need_a_signed_head(log, tmp_path):
    with pytest.raises(api.CardsimError, match="no signed tree head of size 5"):
        api.prove_consistency(log, 5, heads(log)[-1])
    with pytest.raises(api.CardsimError, match="no such transaction"):
        api.prove_inclusion(log, "T-none")


# --- malformed proof files: bad input --------------------------------------------------------------

def _malformed(proof: dict):
    yield "not json", "{\"kind\": "
    yield "a list", "[]"
    yield "deep", "[" * 50 + "]" * 50
    yield "NaN", json.dumps(proof).replace(str(proof["tree_head"]["sim_time"]), "NaN", 1)
    yield "bad kind", {**proof, "kind": "exclusion"}
    yield "missing key", {k: v for k, v in proof.items() if k != "audit_path"}
    yield "extra key", {**proof, "x": 1}
    yield "short node", {**proof, "audit_path": [proof["audit_path"][0][:-2]] + proof["audit_path"][1:]}
    yield "upper-case hex", {**proof, "log_id": proof["log_id"].upper()}
    yield "node not text", {**proof, "audit_path": [1] + proof["audit_path"][1:]}
    yield "path not a list", {**proof, "audit_path": "".join(proof["audit_path"])}
    yield "negative index", {**proof, "leaf_index": -1}
    yield "float index", {**proof, "leaf_index": 1.0}
    yield "head missing", {**proof, "tree_head": None}
    yield "head sim_time int", {**proof, "tree_head": {**proof["tree_head"], "sim_time": 3600}}
    yield "final 2", {**proof, "tree_head": {**proof["tree_head"], "final": 2}}
    yield "record bytes", {**proof, "record": {**proof["record"], "card_sig": {"hex": "zz"}}}
    yield "record list", {**proof, "record": {**proof["record"], "card_id": [1]}}
    yield "wrong format", {**proof, "format": "cardsim-proof/9"}
    yield "unknown algorithm", {**proof, "algorithm": "rsa"}


def test_malformed_proof_files_are_bad_input(log, keys_dir, tmp_path):
    proof = api.prove_inclusion(log, tx(log, 7))
    for name, bad in _malformed(proof):
        r = runner.invoke(app, ["check-proof", str(write(tmp_path, bad)), "--keys", str(keys_dir)])
        assert_bad_input(r, "p.json")
    r = runner.invoke(app, ["check-proof", str(tmp_path), "--keys", str(keys_dir)])
    assert_bad_input(r, "directory")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{}")
    assert_bad_input(runner.invoke(app, ["check-proof", str(tmp_path / "bin.json"),
                                         "--keys", str(keys_dir)]), "bin.json")

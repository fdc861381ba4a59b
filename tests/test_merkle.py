"""cardsim.merkle against RFC 9162's definitions, the Certificate Transparency reference vectors
(the leaves, roots and proofs the reference implementations test with), properties over random
sizes, and every malformed proof the reference verifiers reject."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardsim import merkle as M

#: The reference leaves (transparency-dev/merkle testonly, Google's certificate-transparency).
DATA = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243",
                                   "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
#: MTH of the first n leaves, n = 1..8.
ROOTS = [bytes.fromhex(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
_H = {k: bytes.fromhex(v) for k, v in {
    "96a2": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f08": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca85": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37e": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "0ebc": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
}.items()}
INCLUSION = [(0, 8, ["96a2", "5f08", "6b47"]), (5, 8, ["bc1a", "ca85", "d37e"])]
CONSISTENCY = [(2, 8, ["5f08", "6b47"]), (6, 8, ["0ebc", "ca85", "d37e"]), (2, 5, ["5f08", "bc1a"])]
LEAVES = [M.leaf_hash(d) for d in DATA]


def leaves(n: int) -> list[bytes]:
    return [M.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162's recursive definition, written out independently of the module."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


# --- the definitions and the reference vectors -------------------------------------------------

def test_leaf_and_node_hashes_use_the_rfc_prefixes():
    assert M.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    a, b = M.leaf_hash(b"a"), M.leaf_hash(b"b")
    assert M.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert M.root([]) == M.EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("n", range(1, 9))
def test_reference_roots(n):
    assert M.root(LEAVES[:n]) == ROOTS[n - 1]


@pytest.mark.parametrize("index, size, path", INCLUSION)
def test_reference_inclusion_proofs(index, size, path):
    proof = M.inclusion_proof(LEAVES, index, size)
    assert proof == [_H[p] for p in path]
    assert M.verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size - 1]) is None


@pytest.mark.parametrize("size1, size2, path", CONSISTENCY)
def test_reference_consistency_proofs(size1, size2, path):
    proof = M.consistency_proof(LEAVES, size1, size2)
    assert proof == [_H[p] for p in path]
    assert M.verify_consistency(size1, size2, proof, ROOTS[size1 - 1], ROOTS[size2 - 1]) is None


def test_the_split_is_the_largest_power_of_two_below_n_not_the_midpoint():
    assert [M._split(n) for n in (2, 3, 4, 5, 6, 7, 8, 9, 1000)] == [1, 2, 2, 4, 4, 4, 4, 8, 512]


#: Property tests hash hundreds of leaves per example: no per-example deadline on a shared host.
HEAVY = settings(deadline=None)


@HEAVY
@given(st.integers(0, 300))
def test_root_is_the_recursive_definition(n):
    assert M.root(leaves(n)) == mth(leaves(n))


@HEAVY
@given(st.integers(0, 300), st.integers(1, 50))
def test_the_streamed_tree_is_the_tree_and_resumes(n, chunk):
    hs = leaves(n)
    t = M.Tree()
    for i in range(0, n, chunk):
        t.extend(hs[i:i + chunk])
        assert t.root() == mth(hs[:min(n, i + chunk)])
        assert len(t.state()[1]) == bin(t.size).count("1")      # O(log n): one root per bit
    t2 = M.Tree.resume(*t.state())
    t2.append(M.leaf_hash(b"next"))
    assert t2.root() == mth(hs + [M.leaf_hash(b"next")])


# --- properties -------------------------------------------------------------------------------

sizes = st.integers(1, 200)


@HEAVY
@given(sizes, st.data())
def test_every_inclusion_proof_verifies(n, data):
    hs = leaves(n)
    i = data.draw(st.integers(0, n - 1))
    proof = M.inclusion_proof(hs, i)
    assert M.verify_inclusion(hs[i], i, n, proof, mth(hs)) is None


@HEAVY
@given(sizes, st.data())
def test_every_consistency_proof_verifies(n2, data):
    n1 = data.draw(st.integers(1, n2))
    hs = leaves(n2)
    proof = M.consistency_proof(hs, n1)
    assert M.verify_consistency(n1, n2, proof, mth(hs[:n1]), mth(hs)) is None


def _flips(nodes: list[bytes]):
    """Every proof made from ``nodes`` by flipping one bit (all bits of short proofs, a spread of
    them otherwise, always including the first and last bit of every node)."""
    for i, node in enumerate(nodes):
        for bit in sorted({0, 7, 8 * len(node) - 1, *range(0, 8 * len(node), 37)}):
            changed = bytearray(node)
            changed[bit // 8] ^= 1 << (bit % 8)
            yield nodes[:i] + [bytes(changed)] + nodes[i + 1:]


def _reject(fn, *args):
    with pytest.raises(M.ProofError):
        fn(*args)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 100), st.data())
def test_every_bit_flip_and_truncation_of_an_inclusion_proof_fails(n, data):
    hs = leaves(n)
    i = data.draw(st.integers(0, n - 1))
    proof, r = M.inclusion_proof(hs, i), mth(hs)
    for bad in _flips(proof):
        _reject(M.verify_inclusion, hs[i], i, n, bad, r)
    for bad in _flips([hs[i], r]):                      # the leaf and the root themselves
        _reject(M.verify_inclusion, bad[0], i, n, proof, bad[1])
    for k in range(len(proof)):
        _reject(M.verify_inclusion, hs[i], i, n, proof[:k], r)       # truncated
        _reject(M.verify_inclusion, hs[i], i, n, proof[:k] + proof[k + 1:], r)   # a node dropped
        _reject(M.verify_inclusion, hs[i], i, n, [p[:31] if j == k else p
                                                  for j, p in enumerate(proof)], r)
    _reject(M.verify_inclusion, hs[i], i, n, proof + [r], r)        # a node too many
    for j in {i - 1, i + 1, i ^ 2}:                                    # another index
        if 0 <= j < n and M.inclusion_proof(hs, j) != proof or j >= n:
            _reject(M.verify_inclusion, hs[i], j, n, proof, r)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 100), st.data())
def test_every_bit_flip_and_truncation_of_a_consistency_proof_fails(n2, data):
    n1 = data.draw(st.integers(1, n2 - 1))
    hs = leaves(n2)
    proof, r1, r2 = M.consistency_proof(hs, n1), mth(hs[:n1]), mth(hs)
    for bad in _flips(proof):
        _reject(M.verify_consistency, n1, n2, bad, r1, r2)
    for bad in _flips([r1, r2]):
        _reject(M.verify_consistency, n1, n2, proof, bad[0], bad[1])
    for k in range(len(proof)):
        _reject(M.verify_consistency, n1, n2, proof[:k], r1, r2)
        _reject(M.verify_consistency, n1, n2, proof[:k] + proof[k + 1:], r1, r2)
    _reject(M.verify_consistency, n1, n2, proof + [r1], r1, r2)
    _reject(M.verify_consistency, n2, n1, proof, r2, r1)                 # sizes swapped


# --- malformed arguments, as the reference verifiers reject them --------------------------------

ROOT8, PROOF5 = ROOTS[7], M.inclusion_proof(LEAVES, 5)


@pytest.mark.parametrize("args", [
    (LEAVES[5][:31], 5, 8, PROOF5, ROOT8),          # leaf hash not 32 bytes
    (LEAVES[5], 5, 8, PROOF5, ROOT8 + b"\x00"),     # root not 32 bytes
    (LEAVES[5], 5, 8, [PROOF5[0][:31]] + PROOF5[1:], ROOT8),
    (LEAVES[5], 5, 8, [bytearray(PROOF5[0])] + PROOF5[1:], ROOT8),   # not bytes
    (LEAVES[5], 5, 8, "not a list", ROOT8),
    (LEAVES[5], 5, 8, PROOF5[0] + PROOF5[1] + PROOF5[2], ROOT8),    # concatenated, not a list
    (LEAVES[5].hex(), 5, 8, PROOF5, ROOT8),
    (LEAVES[5], 8, 8, PROOF5, ROOT8),               # index outside the tree
    (LEAVES[5], -1, 8, PROOF5, ROOT8),
    (LEAVES[5], 5, 0, PROOF5, ROOT8),               # empty tree
    (LEAVES[5], True, 8, PROOF5, ROOT8),            # not an integer
    (LEAVES[5], 5.0, 8, PROOF5, ROOT8),
    (LEAVES[0], 0, 1, [ROOT8], LEAVES[0]),          # a one-leaf tree needs no node
    (LEAVES[0], 0, 2, [], LEAVES[0]),               # empty proof where one is needed
])
def test_malformed_inclusion_arguments_are_rejected(args):
    _reject(M.verify_inclusion, *args)


def test_a_one_leaf_tree_needs_an_empty_proof():
    assert M.verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0]) is None


R6, P68 = ROOTS[5], M.consistency_proof(LEAVES, 6, 8)


@pytest.mark.parametrize("args", [
    (6, 8, P68, R6[:31], ROOT8),
    (6, 8, P68, R6, ROOT8[:31]),
    (6, 8, [P68[0][:31]] + P68[1:], R6, ROOT8),
    (8, 6, P68, ROOT8, R6),                         # sizes in the wrong order
    (6, 8, [], R6, ROOT8),                          # empty proof where one is needed
    (0, 8, [], M.EMPTY_ROOT, ROOT8),                # from the empty tree
    (0, 8, P68, M.EMPTY_ROOT, ROOT8),
    (4, 4, [], ROOTS[3], ROOTS[4]),                 # one size, two roots
    (4, 4, [ROOTS[3]], ROOTS[3], ROOTS[3]),         # equal sizes need no node
    (-1, 8, P68, R6, ROOT8),
    (6, 8.0, P68, R6, ROOT8),
    (6, 8, tuple(P68) + (R6,), R6, ROOT8),
    (6, 8, None, R6, ROOT8),
])
def test_malformed_consistency_arguments_are_rejected(args):
    _reject(M.verify_consistency, *args)


def test_equal_sizes_with_equal_roots_and_no_nodes_are_consistent():
    assert M.verify_consistency(4, 4, [], ROOTS[3], ROOTS[3]) is None


def test_proof_error_is_a_value_error_and_generators_refuse_impossible_trees():
    assert issubclass(M.ProofError, ValueError)
    for bad in [lambda: M.inclusion_proof(LEAVES, 8), lambda: M.inclusion_proof(LEAVES, 0, 9),
                lambda: M.consistency_proof(LEAVES, 5, 3), lambda: M.consistency_proof(LEAVES, 0),
                lambda: M.root([b"short"]), lambda: M.Tree.resume(3, [LEAVES[0]])]:
        with pytest.raises(ValueError):
            bad()


def test_ranges_are_disjoint_and_cover_what_the_proof_needs():
    for n in range(1, 70):
        for i in range(n):
            rs = M.inclusion_ranges(i, n)
            covered = sorted(x for a, b in rs for x in range(a, b))
            assert covered == [x for x in range(n) if x != i]


@HEAVY
@given(st.lists(st.integers(0, 4), max_size=12), st.integers(0, 9))
def test_a_subtree_added_by_its_root_is_the_same_tree(heights, tail):
    """Perfect subtrees added whole (as the log's stored block roots are) and leaves after them."""
    t, hs = M.Tree(), []
    for h in heights:
        while t.size % (1 << h):               # align, as blocks are aligned
            hs.append(M.leaf_hash(len(hs).to_bytes(4, "big")))
            t.append(hs[-1])
        block = [M.leaf_hash(len(hs + [0] * i).to_bytes(4, "big")) for i in range(1 << h)]
        t.append_subtree(M.root(block), h)
        hs += block
    more = leaves(tail)
    t.extend(more)
    assert t.size == len(hs) + tail and t.root() == mth(hs + more)


def test_a_subtree_must_start_at_its_own_boundary():
    t = M.Tree()
    t.append(LEAVES[0])
    with pytest.raises(ValueError):
        t.append_subtree(LEAVES[1], 1)

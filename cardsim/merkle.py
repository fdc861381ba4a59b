"""Merkle trees exactly as RFC 9162 section 2.1 (Certificate Transparency 2.0) defines them: a
small, stable API with no dependency on the rest of cardsim.

::

    leaf hash      SHA-256(0x00 || leaf)
    node hash      SHA-256(0x01 || left || right)
    MTH({})        SHA-256()                                       (the empty tree)
    MTH(D[n])      SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))     k: the largest power of 2 < n

Hashes and proof nodes are 32-byte :class:`bytes`; trees are given as the list of their leaf
hashes. The functions:

- :func:`leaf_hash`, :func:`node_hash`, :func:`root`
- :func:`inclusion_proof` (RFC 9162 PATH) and :func:`consistency_proof` (PROOF, SUBPROOF)
- :func:`verify_inclusion` and :func:`verify_consistency` (the verification algorithms of
  sections 2.1.3.2 and 2.1.4.2): ``None`` on success, :class:`ProofError` (a ``ValueError``)
  on any failure, including a malformed argument (a hash that is not 32 bytes, a node too many
  or too few, an index outside the tree, sizes in the wrong order, a proof from the empty tree).
- :class:`Tree`: a tree built as leaves stream in, holding only its compact range (one subtree
  root per set bit of the size: O(log n) memory), and :func:`inclusion_ranges` /
  :func:`consistency_ranges`, the leaf ranges whose subtree roots make up a proof, so a proof
  over a large log is computed by streaming each range through a :class:`Tree`.

A consistency proof from the empty tree is refused: the empty tree commits to nothing, and RFC
9162 defines consistency proofs for a first size of at least 1 (transparency-dev's Go verifier
accepts size 0 with an empty proof; this module does not, so a caller can never mistake "nothing
to check" for "checked").
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "LEAF_PREFIX", "NODE_PREFIX", "ProofError", "Tree", "consistency_proof",
           "consistency_ranges", "inclusion_proof", "inclusion_ranges", "leaf_hash", "node_hash",
           "root", "verify_consistency", "verify_inclusion"]

HASH_SIZE = 32
#: MTH of the empty tree: the SHA-256 of nothing.
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: The prefixes that keep leaves and interior nodes apart (RFC 9162 2.1.1).
LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"
_LEAF, _NODE = LEAF_PREFIX, NODE_PREFIX
_sha = hashlib.sha256


class ProofError(ValueError):
    """A proof that does not verify, or an argument no proof could satisfy."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf."""
    return _sha(_LEAF + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return _sha(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): RFC 9162's split point."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """A Merkle tree grown one leaf hash at a time, keeping only its compact range: the roots of
    the perfect subtrees that the size's binary digits name, largest (leftmost) first."""

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (32 bytes) at the right; it merges with the subtrees it completes."""
        stack, m, h = self._stack, self.size, leaf
        while m & 1:
            h = _sha(_NODE + stack.pop() + h).digest()
            m >>= 1
        stack.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add leaf hashes in order (one node hash per leaf on average).

        Performance shortcut: at an even size two leaves make a complete pair, so they are taken
        two at a time, half the loop turns of one at a time (the same hashes; tested against the
        definition in chunks of every size)."""
        hs = leaves if type(leaves) is list else list(leaves)
        stack, n, sha = self._stack, self.size, _sha
        pop, push = stack.pop, stack.append
        i, end = 0, len(hs)
        if n & 1 and end:
            self.append(hs[0])
            n, i = n + 1, 1
        while i + 1 < end:
            h = sha(b"\x01" + hs[i] + hs[i + 1]).digest()
            m = n >> 1
            while m & 1:
                h = sha(b"\x01" + pop() + h).digest()
                m >>= 1
            push(h)
            n += 2
            i += 2
        if i < end:                # one leaf left at an even size: nothing to merge yet
            push(hs[i])
            n += 1
        self.size = n

    def append_subtree(self, root: bytes, height: int) -> None:
        """Add a perfect subtree of 2**height leaves, given its root, at a size that is a
        multiple of 2**height (the same tree as adding its leaves one by one)."""
        if type(height) is not int or height < 0 or self.size % (1 << height):
            raise ValueError(f"a subtree of height {height!r} cannot start at size {self.size}")
        stack, m, h = self._stack, self.size >> height, root
        while m & 1:
            h = _sha(_NODE + stack.pop() + h).digest()
            m >>= 1
        stack.append(h)
        self.size += 1 << height

    def root(self) -> bytes:
        """MTH of the leaves so far (the subtree roots folded from the right)."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        r = stack[-1]
        for s in reversed(stack[:-1]):
            r = _sha(_NODE + s + r).digest()
        return r

    def state(self) -> tuple[int, tuple[bytes, ...]]:
        """(size, compact range): enough to resume the tree later (:meth:`resume`)."""
        return self.size, tuple(self._stack)

    @classmethod
    def resume(cls, size: int, compact: Sequence[bytes]) -> "Tree":
        if len(compact) != bin(size).count("1"):
            raise ValueError(f"a tree of size {size} has {bin(size).count('1')} subtree roots")
        t = cls()
        t.size, t._stack = size, list(compact)
        return t


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a tree given as its leaf hashes."""
    t = Tree()
    t.extend(_hashes(leaf_hashes, "leaf hash"))
    return t.root()


# --- proofs ------------------------------------------------------------------------------------

def inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose subtree roots are the inclusion proof (PATH) of leaf
    ``index`` in a tree of ``tree_size`` leaves, from the leaf up."""
    _size(tree_size, "tree_size", 1)
    if type(index) is not int or not 0 <= index < tree_size:
        raise ProofError(f"index {index!r} outside a tree of size {tree_size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree roots are the consistency proof (PROOF) from the tree's
    first ``size1`` leaves to its first ``size2``, 0 < size1 <= size2."""
    _size(size1, "size1", 1)
    _size(size2, "size2", 1)
    if size1 > size2:
        raise ProofError(f"size1 {size1} > size2 {size2}")
    out: list[tuple[int, int]] = []
    m, lo, hi, whole = size1, 0, size2, True
    while m != hi - lo:                      # SUBPROOF(m, D[lo:hi], whole)
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m, lo, whole = m - k, lo + k, False
    if not whole:
        out.append((lo, hi))
    out.reverse()
    return out


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int,
                    tree_size: int | None = None) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``tree_size`` leaf hashes
    (default: all of them)."""
    n = len(leaf_hashes) if tree_size is None else tree_size
    _within(n, leaf_hashes)
    return [root(leaf_hashes[a:b]) for a, b in inclusion_ranges(index, n)]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int,
                      size2: int | None = None) -> list[bytes]:
    """The consistency proof from the tree of the first ``size1`` leaf hashes to that of the
    first ``size2`` (default: all of them)."""
    n = len(leaf_hashes) if size2 is None else size2
    _within(n, leaf_hashes)
    return [root(leaf_hashes[a:b]) for a, b in consistency_ranges(size1, n)]


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` leaves whose MTH is
    ``root`` (RFC 9162 2.1.3.2); raise :class:`ProofError` otherwise."""
    _hash(leaf_hash, "leaf_hash")
    _hash(root, "root")
    _size(tree_size, "tree_size", 1)
    if type(index) is not int or not 0 <= index < tree_size:
        raise ProofError(f"index {index!r} outside a tree of size {tree_size}")
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in _proof(proof):
        if sn == 0:
            raise ProofError("inclusion proof: more nodes than the tree has levels")
        if fn & 1 or fn == sn:
            r = _sha(_NODE + p + r).digest()
            fn, sn = _climb(fn, sn)
        else:
            r = _sha(_NODE + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof: fewer nodes than the tree needs")
    if r != root:
        raise ProofError("inclusion proof: the path does not lead to the root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                       root2: bytes) -> None:
    """Check that the tree of ``size1`` leaves with MTH ``root1`` is a prefix of the tree of
    ``size2`` leaves with MTH ``root2`` (RFC 9162 2.1.4.2); raise :class:`ProofError` otherwise."""
    path = _consistency_args(size1, size2, proof, root1, root2)
    if size1 == size2:
        return
    if size1 & (size1 - 1) == 0:          # a power of 2: the old root is a node of the new tree
        path = [root1] + path
    fr, sr = _consistency_roots(size1, size2, path)
    if fr != root1:
        raise ProofError("consistency proof: does not lead to the first root")
    if sr != root2:
        raise ProofError("consistency proof: does not lead to the second root")


def _consistency_args(size1, size2, proof, root1, root2) -> list[bytes]:
    """The proof's nodes once the arguments can be a consistency proof at all; equal sizes are
    checked here whole (an empty proof and one root)."""
    _hash(root1, "root1")
    _hash(root2, "root2")
    _size(size1, "size1", 0)
    _size(size2, "size2", 0)
    path = _proof(proof)
    if size1 > size2:
        raise ProofError(f"consistency: size1 {size1} > size2 {size2}")
    if size1 == 0:
        raise ProofError("consistency: a proof from the empty tree proves nothing")
    if size1 == size2 and path:
        raise ProofError("consistency: equal sizes need an empty proof")
    if size1 == size2 and root1 != root2:
        raise ProofError("consistency: two roots for one tree size")
    if size1 != size2 and not path:
        raise ProofError("consistency: empty proof")
    return path


def _consistency_roots(size1: int, size2: int, path: list[bytes]) -> tuple[bytes, bytes]:
    """The two roots the proof leads to (steps 3 to 6 of RFC 9162 2.1.4.2)."""
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof: more nodes than the trees have levels")
        if fn & 1 or fn == sn:
            fr = _sha(_NODE + c + fr).digest()
            sr = _sha(_NODE + c + sr).digest()
            fn, sn = _climb(fn, sn)
        else:
            sr = _sha(_NODE + sr + c).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof: fewer nodes than the trees need")
    return fr, sr


def _climb(fn: int, sn: int) -> tuple[int, int]:
    """Shift both right until fn's lowest bit is set or fn is 0 (RFC 9162's step ii)."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


# --- argument checks ---------------------------------------------------------------------------

def _hash(h, what: str) -> None:
    if type(h) is not bytes or len(h) != HASH_SIZE:
        raise ProofError(f"{what}: expected a {HASH_SIZE}-byte hash, got "
                         f"{len(h) if isinstance(h, (bytes, bytearray)) else type(h).__name__}"
                         f"{' bytes' if isinstance(h, (bytes, bytearray)) else ''}")


def _size(n, what: str, least: int) -> None:
    if type(n) is not int or n < least:
        raise ProofError(f"{what}: expected an integer >= {least}, got {n!r}")


def _proof(proof) -> list[bytes]:
    if not isinstance(proof, (list, tuple)):
        raise ProofError(f"proof: expected a list of hashes, got {type(proof).__name__}")
    for i, p in enumerate(proof):
        _hash(p, f"proof node {i}")
    return list(proof)


def _hashes(hashes: Sequence[bytes], what: str) -> Sequence[bytes]:
    for i, h in enumerate(hashes):
        if type(h) is not bytes or len(h) != HASH_SIZE:
            raise ValueError(f"{what} {i}: expected a {HASH_SIZE}-byte hash")
    return hashes


def _within(n: int, leaf_hashes: Sequence[bytes]) -> None:
    if type(n) is not int or not 0 <= n <= len(leaf_hashes):
        raise ProofError(f"tree size {n!r}: the tree has {len(leaf_hashes)} leaves")

"""Log integrity: the hash chain and the Merkle tree over records in ``seq`` order, and signed
tree heads (checkpoints).

Each record has a ``record_hash``: its Merkle leaf hash, SHA-256(0x00 || its content) (RFC 9162;
the content is encoding.RECORD: every column but the two chain columns, ``seq`` included). The
chain runs over those hashes::

    head_0 = genesis hash (encoding.genesis_hash: the format, the effective scenario, the seed and,
             for a log that follows another, the previous log's final signed tree head)
    head_i = SHA-256(link message(head_{i-1}, record_hash_i))        (encoding.link)

and record i stores ``prev_hash = head_{i-1}``. The same hashes are the leaves of an RFC 9162
Merkle tree (``cardsim.merkle.Tree``: built as records stream in, O(log n) memory), so any record
can be proved to be in the log, and any signed head to extend an earlier one, without the log.
Every ``every`` records, and once at the end of a run, the log's owner (the hub) signs a
checkpoint, a signed tree head: the log id (genesis hash), the record count (the tree size), the
chain head, the tree's root, the simulated time and whether it is the final one. Editing any column
breaks the record's hash or its link; deleting, inserting or reordering records breaks the links;
re-chaining needs the hub's key; a cut tail lacks the final checkpoint or disagrees with it.

A record's hash does not depend on the records before it, so the terminal uploads (``upload``)
that sign record hashes stay valid however the log around them is chained: a log owner who
rewrites one record and re-chains the rest fails exactly one terminal upload.
"""

from __future__ import annotations

import hashlib
from typing import Callable, NamedTuple

from cardsim.merkle import LEAF_PREFIX, Tree
from cardsim.records.encoding import checkpoint_message, link, record_message
from cardsim.records.record import columns_getter

CHECKPOINT_SIGNER = "hub"
#: Leaves per stored block root (``tree_blocks``): 2**BLOCK_HEIGHT. A proof reads the block roots
#: and at most a block's leaves per node instead of the whole log.
BLOCK_HEIGHT = 10
BLOCK = 1 << BLOCK_HEIGHT
_sim_time = columns_getter("sim_time")


class Checkpoint(NamedTuple):
    """One row of the log's ``checkpoints`` table, in its column order (inserted as it is)."""

    checkpoint: int          # 1, 2, ... in the log
    count: int               # records chained so far
    head: bytes              # the chain head after them
    root: bytes              # the Merkle tree root of their record hashes
    sim_time: float
    final: int               # 1 for the checkpoint at the end of a run
    signer: str
    signature: bytes | None  # the hub's over encoding.checkpoint_message (None: unsigned)


class Chain:
    def __init__(self, genesis: bytes, every: int, sign: Callable[[bytes], bytes] | None):
        self.log_id = genesis
        self.head = genesis
        self.count = 0
        self.tree = Tree()
        self._block = Tree()                 # the leaves of the current block of BLOCK
        self.blocks: list[tuple[int, bytes]] = []  # (block, root) made since last taken
        self.every = every
        self._sign = sign
        self.number = 0                      # checkpoints made so far
        self.checkpoints: list[Checkpoint] = []   # made since the caller last took them

    def extend(self, rows: list[tuple]) -> list[tuple]:
        """Signed rows (every column but the chain's two) -> rows + (prev_hash, record_hash)."""
        out = []
        head, count, every = self.head, self.count, self.every
        sha, leaf, tree = hashlib.sha256, LEAF_PREFIX, self.tree
        hashes: list[bytes] = []          # added to the tree per batch, or at a checkpoint
        for row in rows:
            rh = sha(leaf + record_message(row)).digest()       # encoding.record_hash, inlined
            out.append(row + (head, rh))
            hashes.append(rh)
            head = link(head, rh)
            count += 1
            if count % every == 0:
                tree.extend(hashes)
                self._add_blocks(hashes)
                hashes.clear()
                self.head, self.count = head, count
                self.checkpoints.append(self.checkpoint(_sim_time(row), final=0))
        tree.extend(hashes)
        self._add_blocks(hashes)
        self.head, self.count = head, count
        return out

    def _add_blocks(self, hashes: list[bytes]) -> None:
        """Each block of BLOCK leaves the hashes complete: its root, for ``tree_blocks``."""
        block, i = self._block, 0
        while i < len(hashes):
            take = BLOCK - block.size
            block.extend(hashes[i:i + take])
            i += take
            if block.size == BLOCK:
                self.blocks.append((len(self.blocks) + self._blocks_taken, block.root()))
                block = Tree()
        self._block = block

    def checkpoint(self, sim_time: float, final: int) -> Checkpoint:
        """The next checkpoint, over the chain as it stands."""
        root = self.tree.root()
        msg = checkpoint_message(self.log_id, self.count, self.head, root, sim_time, final)
        sig = self._sign(msg) if self._sign else None
        self.number += 1
        return Checkpoint(self.number, self.count, self.head, root, sim_time, final,
                          CHECKPOINT_SIGNER, sig)

    _blocks_taken = 0

    def take(self) -> list[Checkpoint]:
        cps, self.checkpoints = self.checkpoints, []
        return cps

    def take_blocks(self) -> list[tuple[int, bytes]]:
        """The ``tree_blocks`` rows made since last taken."""
        blocks, self.blocks = self.blocks, []
        self._blocks_taken += len(blocks)
        return blocks

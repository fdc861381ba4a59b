"""Log integrity: the hash chain over records in ``seq`` order, and signed checkpoints.

Each record has a ``record_hash``: the SHA-256 of its content (encoding.RECORD: every column but
the two chain columns, ``seq`` included). The chain runs over those hashes::

    head_0 = genesis hash (encoding.genesis_hash: the format, the effective scenario and the seed)
    head_i = SHA-256(link message(head_{i-1}, record_hash_i))        (encoding.link)

and record i stores ``prev_hash = head_{i-1}``. Every ``every`` records, and once at the end of a
run, the log's owner (the hub) signs a checkpoint: the log id (genesis hash), the record count,
the chain head, the simulated time and whether it is the final checkpoint. Editing any column
breaks the record's hash or its link; deleting, inserting or reordering records breaks the links;
re-chaining needs the hub's key; a cut tail lacks the final checkpoint or disagrees with it.

A record's hash does not depend on the records before it, so the terminal uploads (``upload``)
that sign record hashes stay valid however the log around them is chained: a log owner who
rewrites one record and re-chains the rest fails exactly one terminal upload.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from cardsim.records.encoding import RECORD, checkpoint_message, encode, link

CHECKPOINT_SIGNER = "hub"


class Chain:
    def __init__(self, genesis: bytes, every: int, sign: Callable[[bytes], bytes] | None):
        self.log_id = genesis
        self.head = genesis
        self.count = 0
        self.every = every
        self._sign = sign
        self.number = 0                      # checkpoints made so far
        self.checkpoints: list[tuple] = []   # made since the caller last took them

    def extend(self, rows: list[tuple]) -> list[tuple]:
        """Rows without chain columns -> rows + (prev_hash, record_hash), in order."""
        out = []
        head, count, every = self.head, self.count, self.every
        sha = hashlib.sha256
        for row in rows:
            rh = sha(encode(RECORD, row)).digest()
            out.append(row + (head, rh))
            head = link(head, rh)
            count += 1
            if count % every == 0:
                self.head, self.count = head, count
                self.checkpoints.append(self.checkpoint(row[2], final=0))
        self.head, self.count = head, count
        return out

    def checkpoint(self, sim_time: float, final: int) -> tuple:
        """(number, count, head, sim_time, final, signer, signature) for the chain as it stands."""
        msg = checkpoint_message(self.log_id, self.count, self.head, sim_time, final)
        sig = self._sign(msg) if self._sign else None
        self.number += 1
        return (self.number, self.count, self.head, sim_time, final, CHECKPOINT_SIGNER, sig)

    def take(self) -> list[tuple]:
        cps, self.checkpoints = self.checkpoints, []
        return cps

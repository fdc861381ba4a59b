"""Log integrity: the hash chain over records in ``seq`` order, and signed checkpoints.

``record_hash = SHA-256(record message)``, where the record message (encoding.RECORD) holds every
column of the record but ``record_hash``, ``prev_hash`` included; record 1's ``prev_hash`` is the
log's genesis hash (encoding.genesis_hash: the format, the effective scenario and the seed). Every
``every`` records, and once at the end of a run, the log's owner (the hub) signs a checkpoint: the
log id (genesis hash), the record count, the chain head (the last record_hash), the simulated time
and whether it is the final checkpoint. Editing any column breaks the chain; deleting, inserting or
reordering records breaks it too; re-chaining the tail needs the hub's key; a cut tail lacks the
final checkpoint or disagrees with it.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from .encoding import RECORD, checkpoint_message, encode

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
            full = row + (head,)
            head = sha(encode(RECORD, full)).digest()
            out.append(full + (head,))
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

"""Terminal uploads: each terminal's signed batches of the records it took.

A merchant's terminals upload what they took in batches, every ``upload_interval_s`` of their
service type (a record's ``uploaded_at`` is its batch's moment; 0 = each record at once). In a
signed log every batch is one row of ``uploads``: the terminal, its merchant, the upload time, the
number of records and the SHA-256 over their ``record_hash`` values in ``seq`` order
(``encoding.records_digest``), signed by the terminal (``encoding.UPLOAD``). The terminal's key is
certified by its merchant (``encoding.TERMINAL_CERT``, a ``certificates`` row of kind
``terminal``), and the merchant's X.509 certificate by the root.

Why: the hub owns the log and signs its checkpoints, so a dishonest log owner could rewrite an
offline decision and re-chain the log. An offline decision is the terminal's; with signed uploads,
rewriting one needs that terminal's key as well.

Each terminal numbers its uploads (1, 2, ... in the run), and at the end of a run each merchant
signs what its terminals uploaded (``merchant_totals``: per terminal, uploads and records), so
uploads cannot be left out of a log unseen: a gap in a terminal's numbers, or a count that is not
the merchant's, shows it.

The batch rule, shared by the writer and the verifier (:class:`Batches`): a batch is the records
with the same ``(terminal_id, uploaded_at)``, in ``seq`` order. Records are logged in ``sim_time``
order and uploaded at or after their ``sim_time``, so a batch is complete once a record later than
its ``uploaded_at`` has been logged, and at the end of a run. Batches close in
``(uploaded_at, terminal_id)`` order, which numbers the ``uploads`` rows the same way whatever the
batch sizes of the pipeline.

Simulation shortcut: a real terminal signs its batch file before the records reach any log; here it
signs the hashes of its records as logged, so that one hash covers every column it reported. A
record hash also holds the chain link, so an upload attests the records' order in the log too.
"""

from __future__ import annotations

from typing import NamedTuple

from cardsim.records import encoding as E
from cardsim.records.record import columns_getter
from cardsim.signing.certificate import Certificate
from cardsim.signing.keys import TERMINAL_VALIDITY, KeyRing, merchant_name, terminal_keys

# Performance shortcut: the writer's per-record loop reads rows through getters built once from
# the column names (record.columns_getter).
_batch_key = columns_getter("terminal_id", "uploaded_at")
_batch_entry = columns_getter("merchant_id", "seq", "record_hash")

#: The ``uploads`` table: its columns and types, in order.
UPLOAD_COLUMNS = {"upload": int, "terminal_id": str, "merchant_id": str, "number": int,
                  "uploaded_at": float, "count": int, "records_digest": bytes, "signature": bytes}
#: The ``merchant_totals`` table: one row per merchant, signed by it at the end of a run.
MERCHANT_TOTALS_COLUMNS = {"merchant_id": str, "terminals": int, "uploads": int, "records": int,
                           "terminals_digest": bytes, "signature": bytes}


class Batch(NamedTuple):
    """A closed upload batch: one terminal's records uploaded at one moment, in ``seq`` order."""

    terminal_id: str
    uploaded_at: float
    merchant_id: str
    seqs: list[int]
    record_hashes: list[bytes]


class Batches:
    """Open upload batches, keyed by (terminal_id, uploaded_at), and the rule that closes them.

    An open batch is ``[merchant_id, [seq], [record_hash]]``; closed ones come out as
    :class:`Batch`.
    """

    def __init__(self) -> None:
        self.open: dict[tuple, list] = {}

    def add(self, terminal_id, uploaded_at, merchant_id, seq, record_hash) -> None:
        b = self.open.get((terminal_id, uploaded_at))
        if b is None:
            self.open[(terminal_id, uploaded_at)] = [merchant_id, [seq], [record_hash]]
        else:
            b[1].append(seq)
            b[2].append(record_hash)

    def add_rows(self, rows) -> None:
        """Add chained log rows (``record.COLUMNS`` order) of one writer batch: :meth:`add`
        inlined (performance shortcut: the writer's hot loop, once per record)."""
        opened = self.open
        for r in rows:
            key = _batch_key(r)
            merchant, seq, record_hash = _batch_entry(r)
            b = opened.get(key)
            if b is None:
                opened[key] = [merchant, [seq], [record_hash]]
            else:
                b[1].append(seq)
                b[2].append(record_hash)

    def close(self, now: float | None) -> list[Batch]:
        """Close every batch uploaded before ``now`` (all of them when ``now`` is None)."""
        if now is None:
            keys = list(self.open)
        else:
            keys = [k for k in self.open if k[1] < now]
        keys.sort(key=lambda k: (k[1], k[0]))
        out = []
        for k in keys:
            merchant, seqs, hashes = self.open.pop(k)
            out.append(Batch(k[0], k[1], merchant, seqs, hashes))
        return out


class TerminalSigner:
    """The terminals' side, in the log writer: derive a terminal's key and certificate on first
    use (the merchant signs it), and sign each closed batch."""

    def __init__(self, ring: KeyRing, log_id: bytes):
        self.alg = ring.algorithm
        self.log_id = log_id                       # every upload and total names its log
        self._ring = ring
        self._keys: dict[str, object] = {}        # merchant_id -> DerivedKeys
        self._merchant_keys: dict[str, object] = {}
        self.certified: set[str] = set()
        self.count = 0
        self.totals: dict[str, list] = {}          # terminal -> [merchant, uploads, records]
        #: terminal -> its last upload number before this log (linked days; 0 when none)
        self.start: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"TerminalSigner({self.alg.name})"

    def _derived(self, merchant_id: str):
        d = self._keys.get(merchant_id)
        if d is None:
            d = self._keys[merchant_id] = terminal_keys(self._ring, merchant_id)
            self._merchant_keys[merchant_id] = self.alg.signing_key(
                self._ring.private[merchant_name(merchant_id)])
        return d

    def certificate(self, terminal_id: str, merchant_id: str, pub: bytes) -> Certificate:
        """The terminal's certificate, signed by its merchant."""
        nb, na = TERMINAL_VALIDITY
        body = E.terminal_cert_body(terminal_id, merchant_id, self.alg.name, pub, nb, na)
        sig = self.alg.sign(self._merchant_keys[merchant_id], body)
        return Certificate(terminal_id, "terminal", merchant_name(merchant_id), self.alg.name, body,
                           sig)

    def sign(self, closed: list[Batch]) -> tuple[list[tuple], list[Certificate]]:
        """Closed batches -> (``uploads`` rows, terminal certificates first needed by them)."""
        uploads, certs = [], []
        sign = self.alg.sign
        for terminal_id, uploaded_at, merchant_id, _seqs, hashes in closed:
            key, pub = self._derived(merchant_id).get(terminal_id)
            if terminal_id not in self.certified:
                self.certified.add(terminal_id)
                certs.append(self.certificate(terminal_id, merchant_id, pub))
            total = self.totals.setdefault(terminal_id, [merchant_id, 0, 0])
            total[1] += 1
            total[2] += len(hashes)
            digest = E.records_digest(hashes)
            number = self.start.get(terminal_id, 0) + total[1]
            msg = E.upload_message(self.log_id, terminal_id, merchant_id, number, uploaded_at,
                                   len(hashes), digest)
            self.count += 1
            uploads.append((self.count, terminal_id, merchant_id, number, uploaded_at,
                            len(hashes), digest, sign(key, msg)))
        return uploads, certs

    def merchant_totals(self, merchant_ids, end_time: float) -> list[tuple]:
        """At the end of a run, each merchant signs what its terminals uploaded to this log over
        simulated seconds [0, end_time]: per terminal the number of uploads and of records
        (``merchant_totals`` rows, one per merchant, an empty one included). A log owner who
        drops a terminal's uploads, its last ones included, or a whole terminal, no longer
        matches the merchant's count; totals signed for another log or period do not verify."""
        out = []
        for merchant_id in merchant_ids:
            self._derived(merchant_id)               # loads the merchant's signing key
            rows = [(tid, n, r) for tid, (m, n, r) in self.totals.items() if m == merchant_id]
            uploads, records = sum(r[1] for r in rows), sum(r[2] for r in rows)
            digest = E.terminals_digest(rows)
            msg = E.merchant_totals_message(self.log_id, float(end_time), merchant_id, len(rows),
                                            uploads, records, digest)
            out.append((merchant_id, len(rows), uploads, records, digest,
                        self.alg.sign(self._merchant_keys[merchant_id], msg)))
        return out

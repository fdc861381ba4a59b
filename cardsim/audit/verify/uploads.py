"""The terminals' uploads, their certificates and the merchants' signed totals, checked in the
coordinator as the records stream past in seq order: records are grouped by the writer's batch
rule (``upload.Batches``) and each closed batch is matched against its ``uploads`` row."""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from dataclasses import dataclass

from cardsim.audit.verify.findings import Tally
from cardsim.audit.verify.primitives import (certificate_fields, fast_verifier, subject_key,
                                             verifier_keys)
from cardsim.records import encoding as E
from cardsim.records.record import INDEX
from cardsim.signing.crypto import Algorithm
from cardsim.signing.keys import merchant_ids, merchant_name
from cardsim.signing.upload import MERCHANT_TOTALS_COLUMNS, UPLOAD_COLUMNS, Batches

#: One row of the ``uploads`` table, and of ``merchant_totals``.
Upload = namedtuple("Upload", UPLOAD_COLUMNS)
MerchantTotals = namedtuple("MerchantTotals", MERCHANT_TOTALS_COLUMNS)
_UPLOAD_TYPES = tuple(UPLOAD_COLUMNS.values())
_TERMINAL_CERT_TYPES = (str, str, str, bytes, int, int)
# Measured hot loop (UploadCheck.add, every record): index constants, not Record fields.
_TERMINAL, _MERCHANT, _UPLOADED = INDEX["terminal_id"], INDEX["merchant_id"], INDEX["uploaded_at"]


@dataclass(frozen=True)
class TerminalKey:
    """A terminal's certified key, merchant and validity, or why its certificate is unusable."""

    key: object = None
    merchant_id: str | None = None
    not_before: int = 0
    not_after: int = 0
    bad: str | None = None


class UploadCheck:
    """Per upload: the terminal's certificate and signature, and that its count and digest match
    the records; per terminal, upload numbers without a gap; at the end, the merchants' totals."""

    def __init__(self, conn, alg: Algorithm, ca: dict, epoch: int, period: tuple[bytes, float],
                 t: Tally):
        """``period``: the log id every upload and merchant total must name, and the run's end
        (simulated seconds) the totals cover."""
        self.alg, self.epoch, self.t, self.conn = alg, epoch, t, conn
        self.period = period
        self.verify = fast_verifier(alg)
        self.merchants = verifier_keys(ca, alg)      # the CA layer; merchants' keys used here
        self.terminals: dict[str, TerminalKey] = {}
        self.batches = Batches()
        self.expected: dict[tuple, Upload] = {}
        self.rows: list[Upload] = []
        try:
            rows = conn.execute("SELECT * FROM uploads ORDER BY upload").fetchall()
        except sqlite3.Error:
            t.fail("uploads", "no_uploads_table")
            self.active = False
            return
        self.active = True
        self._expect(rows)

    def _expect(self, rows: list[tuple]) -> None:
        """Well-formed, distinct uploads in table order; each terminal numbers its uploads 1, 2,
        ... in time order, which is the table's order: a gap is an upload left out of the log. In
        a log that follows another, a terminal's numbers go on from its ``upload_start`` number
        (a series verify checks that number against the log before)."""
        t = self.t
        last: dict[str, int] = self._start()     # terminal -> its last upload number seen
        for row in rows:
            if len(row) != len(_UPLOAD_TYPES) or not all(
                    isinstance(v, ty) for v, ty in zip(row, _UPLOAD_TYPES)):
                t.fail("uploads", f"malformed:{row[0]}")
                continue
            up = Upload._make(row)
            if (up.terminal_id, up.uploaded_at) in self.expected:
                t.fail("uploads", f"duplicate:{up.upload}")
                continue
            self.expected[(up.terminal_id, up.uploaded_at)] = up
            self.rows.append(up)
            want = last.get(up.terminal_id, 0) + 1
            if up.number != want:
                t.fail("uploads", f"number_gap:{up.terminal_id}#{want}")
            last[up.terminal_id] = max(up.number, last.get(up.terminal_id, 0))

    def _start(self) -> dict[str, int]:
        try:
            rows = self.conn.execute("SELECT terminal_id, number FROM upload_start").fetchall()
        except sqlite3.Error:
            rows = []
        good = {tid: n for tid, n in rows if type(tid) is str and type(n) is int and n >= 0}
        if len(good) != len(rows):
            self.t.fail("uploads", "malformed_upload_start")
        return good

    def add(self, row: tuple) -> None:
        """A record in seq order (a terminal id or upload time of the wrong type is the workers'
        format finding)."""
        if self.active and type(row[_UPLOADED]) is float and type(row[_TERMINAL]) is str:
            self.batches.add(row[_TERMINAL], row[_UPLOADED], row[_MERCHANT], row[0], row[-1])

    def close(self, now: float | None) -> None:
        """Match every batch complete at ``now`` (None: all of them, at the end of the log)."""
        if not self.active:
            return
        for batch in self.batches.close(now):
            self._match(*batch)
        if now is None:
            for up in self.expected.values():
                self.t.fail("uploads", f"no_records:{up.upload}:{up.terminal_id}@{up.uploaded_at:g}")
            check_merchant_totals(self.conn, self.rows, self.merchants, self.verify, self.period,
                                  self.t)

    def _match(self, terminal_id: str, uploaded_at: float, merchant_id: str, seqs: list,
               hashes: list) -> None:
        t = self.t
        up = self.expected.pop((terminal_id, uploaded_at), None)
        if up is None:
            for s in seqs:
                t.fail("uploads", "not_uploaded", s)
            return
        where = f"{up.upload}:{terminal_id}@{uploaded_at:g}"
        key = self._terminal(terminal_id, up.merchant_id, uploaded_at, where)
        if key is None:
            return
        msg = E.upload_message(self.period[0], terminal_id, up.merchant_id, up.number, uploaded_at,
                               up.count, up.records_digest)
        if not self.verify(key, up.signature, msg):
            t.fail("uploads", f"bad_signature:{where}")
        elif up.count != len(hashes):
            t.fail("uploads", f"count_differs:{where}")
        elif up.records_digest != E.records_digest(hashes) or merchant_id != up.merchant_id:
            t.fail("uploads", f"digest_differs:{where}")
        else:
            t.ok("uploads")

    def _terminal(self, terminal_id: str, merchant_id: str, uploaded_at: float, where: str):
        """The terminal's public key if its certificate checks out for this upload, else None
        (and a ``terminal_certificate`` finding)."""
        got = self.terminals.get(terminal_id)
        if got is None:
            got = self.terminals[terminal_id] = self._load_terminal(terminal_id)
        bad = got.bad
        if bad is None and got.merchant_id != merchant_id:
            bad = "wrong_merchant"
        if bad is None and not got.not_before <= self.epoch + uploaded_at <= got.not_after:
            bad = "not_valid_at_upload"
        if bad is not None:
            self.t.fail("terminal_certificate", f"{bad}:{where}")
            return None
        self.t.ok("terminal_certificate")
        return got.key

    def _load_terminal(self, terminal_id: str) -> TerminalKey:
        row = self.conn.execute("SELECT issuer, body, signature FROM certificates WHERE subject = ? "
                                "AND kind = 'terminal'", (terminal_id,)).fetchone()
        if row is None:
            return TerminalKey(bad="missing")
        issuer, body, sig = row
        v = certificate_fields(body, sig, E.TERMINAL_CERT, _TERMINAL_CERT_TYPES)
        if v is None:
            return TerminalKey(bad="malformed")
        tid, merchant_id, alg, pub, nb, na = v
        if tid != terminal_id or issuer != merchant_name(merchant_id):
            return TerminalKey(bad="wrong_subject")
        if alg != self.alg.name:
            return TerminalKey(bad="wrong_algorithm")
        mkey = self.merchants.get(merchant_name(merchant_id))
        if mkey is None or not self.verify(mkey, sig, body):
            return TerminalKey(bad="bad_merchant_signature")
        key = subject_key(self.alg, pub)
        return TerminalKey(bad="bad_public_key") if key is None else TerminalKey(key, merchant_id, nb, na)


def _uploaded_per_merchant(uploads: list[Upload]) -> dict[str, dict[str, list]]:
    """merchant -> terminal -> [uploads, records], from the uploads the log holds."""
    per: dict[str, dict[str, list]] = {}
    for up in uploads:
        tot = per.setdefault(up.merchant_id, {}).setdefault(up.terminal_id, [0, 0])
        tot[0] += 1
        tot[1] += up.count
    return per


def check_merchant_totals(conn, uploads: list[Upload], keys: dict, verify,
                          period: tuple[bytes, float], t: Tally) -> None:
    """Each merchant's signed totals, for this log and period (log id, run's end), against the
    uploads the log holds for its terminals."""
    per = _uploaded_per_merchant(uploads)
    try:
        signed = {r[0]: r for r in conn.execute("SELECT * FROM merchant_totals")}
    except sqlite3.Error:
        t.fail("merchant_totals", "no_merchant_totals_table")
        return
    for merchant_id in merchant_ids():
        row = signed.pop(merchant_id, None)
        if row is None:
            t.fail("merchant_totals", f"missing:{merchant_id}")
            continue
        if len(row) != len(MerchantTotals._fields):
            raise ValueError(f"merchant_totals: {len(row)} columns, expected {len(MerchantTotals._fields)}")
        mine = [(tid, n, r) for tid, (n, r) in per.get(merchant_id, {}).items()]
        reason = _totals_finding(MerchantTotals._make(row), mine, keys, verify, period)
        if reason is None:
            t.ok("merchant_totals")
        else:
            t.fail("merchant_totals", f"{reason}:{merchant_id}")
    for merchant_id in signed:
        t.fail("merchant_totals", f"unknown_merchant:{merchant_id}")


def _totals_finding(m: MerchantTotals, mine: list[tuple], keys: dict, verify,
                    period: tuple[bytes, float]) -> str | None:
    """Why one merchant's signed totals fail (None: they hold). ``mine``: (terminal, uploads,
    records) per terminal of that merchant, as the log's uploads say; totals signed for another
    log or period fail their signature."""
    key = keys.get(merchant_name(m.merchant_id))
    ok_types = (all(isinstance(v, int) for v in (m.terminals, m.uploads, m.records))
                and isinstance(m.terminals_digest, bytes) and isinstance(m.signature, bytes))
    if not ok_types or key is None or not verify(
            key, m.signature, E.merchant_totals_message(*period, m.merchant_id, m.terminals,
                                                        m.uploads, m.records, m.terminals_digest)):
        return "bad_signature"
    if (m.terminals, m.uploads, m.records) != (len(mine), sum(x[1] for x in mine),
                                               sum(x[2] for x in mine)):
        return "count_differs"
    if m.terminals_digest != E.terminals_digest(mine):
        return "digest_differs"
    return None

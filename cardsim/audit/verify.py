"""Independent verification of a log against the trust anchor (the root CA certificate) alone.

The verifier trusts ``root-ca.pem`` from the keys directory and nothing the log asserts about
itself: every certificate in the log is checked up to that root before its key is used.

Checks (each counted per record, or per checkpoint / certificate where noted):

=================  =============================================================================
``format``         every column has its type; unusable values are findings, never exceptions
``sequence``       ``seq`` is 1, 2, 3 … without gaps
``chain``          ``record_hash`` is the SHA-256 of the record's content and ``prev_hash`` is the
                   chain head before the record (record 1: the genesis hash; ``chain`` module)
``checkpoints``    per checkpoint: hub signature, count and head match the chain; the final
                   checkpoint covers every record
``certificates``   per CA certificate in the log: issued by the trusted root, the right subject,
                   valid over the run
``card_certificate`` the card's certificate is present, well-formed, names the card and its
                   province's issuer, and carries that issuer's valid signature
``card_validity``  the card certificate was valid at the transaction's time
``revocation``     no approval of a card by a node that held its loss report (issuer at once;
                   terminals and stand-in once the blacklist reached them: ``merchant.Blacklist``)
``card_signature`` the card's signature over the recomputed ``card_tx`` message
``issuer_signature`` online decisions carry the issuer's (stand-in: the hub's) valid signature over
                   the recomputed ``auth_response``; offline records carry none
``atc``            per card, the ATC rises strictly in log order (a clone or a replayed record
                   repeats or lowers it)
``terminal_certificate`` per upload: the terminal's certificate is present, well-formed, names the
                   terminal and the upload's merchant, carries that merchant's valid signature and
                   is valid at the upload
``merchant_totals`` per merchant: its signature over what its terminals uploaded (per terminal,
                   uploads and records), and that matches the uploads the log holds
``blacklist``      per province: its issuer's signature over the province's loss reports, and the
                   count and digest match the ``blacklist`` table (the revocation check's input)
``uploads``        per upload: the terminal's signature, and the record count and records digest
                   match the records the log holds for that terminal and upload time; per record:
                   a failure when no upload holds it (``upload`` module: the batch rule); per
                   terminal, its upload numbers run 1, 2, ... without a gap
=================  =============================================================================

Records stream in ``seq`` order; memory grows with the number of cards (their last ATC and
certificate) and of uploads, not with the number of records. Signature work is split across processes by card
(``--workers``), and the report is the same for any number of workers.
"""

from __future__ import annotations

import itertools
import pickle
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardsim.domain import PROVINCES
from cardsim.records import encoding as E
from cardsim.model.card import CODE_PROVINCE
from cardsim.signing.crypto import ALGORITHMS, Algorithm
from cardsim.workers import start_workers
from cardsim.errors import CardsimError, one_line
from cardsim.signing.keys import (HUB, ROOT, all_names, issuer_name, load_trust_anchor, merchant_ids,
                   merchant_name)
from cardsim.log.container import connect_readonly
from cardsim.log.store import open_log, read_run
from cardsim.records.record import COLUMN_NAMES, INDEX, ISSUER, OFFLINE, ONLINE, STANDIN, TERMINAL
from cardsim.signing.upload import UPLOAD_COLUMNS, Batches

CHECKS = ("format", "sequence", "chain", "checkpoints", "certificates", "card_certificate",
          "card_validity", "revocation", "card_signature", "issuer_signature", "atc",
          "terminal_certificate", "uploads", "merchant_totals", "blacklist")
#: Detailed findings kept (the first, in seq order); counts are always complete.
MAX_FINDINGS = 100_000
BATCH = 2000

_TYPES = {  # column -> accepted Python types (None allowed where the column may be null)
    "seq": (int,), "tx_id": (str,), "sim_time": (float,), "arrival_time": (float,),
    "wait_s": (float,), "channel": (str,), "service": (str,), "card_id": (str,),
    "card_province": (str,), "category": (str,), "terminal_id": (str,),
    "terminal_province": (str,), "merchant_id": (str,), "issuer_id": (str,),
    "amount_fen": (int,), "concession": (str, type(None)), "atc": (int,), "mode": (str,),
    "outcome": (str,), "reason": (str, type(None)), "authoriser": (str,),
    "auth_latency_s": (float, type(None)), "balance_fen": (int, type(None)),
    "uploaded_at": (float,), "trip_km": (float, type(None)),
    "decided_at": (float,), "unpredictable_number": (int,), "card_sig": (bytes,),
    "issuer_sig": (bytes, type(None)), "prev_hash": (bytes,), "record_hash": (bytes,),
}
_COL_TYPES = tuple(_TYPES[c] for c in COLUMN_NAMES)
#: Every accepted combination of column types (64: six nullable columns). Performance shortcut:
#: one set look-up of a row's types instead of an isinstance call per column. SQLite gives exact
#: types (never a subclass), so the two are the same test.
_ROW_TYPES = frozenset(itertools.product(*_COL_TYPES))
_I = INDEX
_CARD = INDEX["card_id"]
_TERMINAL = INDEX["terminal_id"]
_MERCHANT = INDEX["merchant_id"]
_UPLOADED = INDEX["uploaded_at"]
_TIME = INDEX["sim_time"]


@dataclass(frozen=True, order=True)
class Finding:
    seq: int            # 0 for findings about the log as a whole (checkpoints, certificates)
    check: str
    reason: str
    tx_id: str | None = None

    def as_dict(self) -> dict:
        return {"seq": self.seq or None, "tx_id": self.tx_id, "check": self.check, "reason": self.reason}


@dataclass
class Tally:
    passed: dict = field(default_factory=lambda: {c: 0 for c in CHECKS})
    failed: dict = field(default_factory=lambda: {c: 0 for c in CHECKS})
    findings: list = field(default_factory=list)

    def ok(self, check: str, n: int = 1) -> None:
        self.passed[check] += n

    def fail(self, check: str, reason: str, seq: int = 0, tx_id: str | None = None) -> None:
        self.failed[check] += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(seq if isinstance(seq, int) else 0, check, reason,
                                         tx_id if isinstance(tx_id, str) else None))

    def merge(self, other: "Tally") -> None:
        for c in CHECKS:
            self.passed[c] += other.passed[c]
            self.failed[c] += other.failed[c]
        self.findings.extend(other.findings)


@dataclass(frozen=True)
class Report:
    path: str
    records: int
    passed: dict
    failed: dict
    findings: tuple
    findings_truncated: bool
    signed: bool
    algorithm: str | None

    @property
    def ok(self) -> bool:
        return self.signed and not any(self.failed.values())

    def as_dict(self) -> dict:
        return {"log": self.path, "ok": self.ok, "records": self.records, "signed": self.signed,
                "algorithm": self.algorithm,
                "checks": {c: {"passed": self.passed[c], "failed": self.failed[c]} for c in CHECKS},
                "failures": sum(self.failed.values()),
                "findings": [f.as_dict() for f in self.findings],
                "findings_truncated": self.findings_truncated}


# --- context shared by the coordinator and the workers ----------------------------------------

@dataclass(frozen=True)
class Context:
    """What signature checks need: plain data, so it can be sent to worker processes."""

    path: str
    algorithm: str
    ca_keys: dict            # name -> DER public key of a CA-layer certificate that checked out
    epoch: int
    delays: dict             # province -> blacklist publication delay (s)
    intervals: dict          # province -> blacklist push interval (s)


class RecordChecker:
    """Per-card checks: certificate, validity, revocation and both signatures."""

    def __init__(self, ctx: Context):
        from cardsim.model.blacklist import Blacklist

        self.alg: Algorithm = ALGORITHMS[ctx.algorithm]
        self.ctx = ctx
        self.ca = _verifier_keys(ctx.ca_keys, self.alg)
        self.conn = connect_readonly(ctx.path)
        self.conn.text_factory = _text
        self.blacklist = Blacklist(ctx.delays, ctx.intervals)
        self.reported: dict[str, float] = {}
        try:
            for cid, t in self.conn.execute("SELECT card_id, reported_at FROM blacklist"):
                if isinstance(t, float) and isinstance(cid, str):
                    self.reported[cid] = t
        except sqlite3.Error:
            pass
        self.cards: dict[str, tuple] = {}
        self.last_atc: dict[str, int] = {}
        self.verify = _fast_verifier(self.alg)

    def card(self, card_id: str) -> tuple:
        """(public key or None, not_before, not_after, failure reason or None), once per card."""
        got = self.cards.get(card_id)
        if got is not None:
            return got
        got = self._load_card(card_id)
        self.cards[card_id] = got
        return got

    def _load_card(self, card_id: str) -> tuple:
        parsed = card_id.isdigit() and len(card_id) == 12 and CODE_PROVINCE.get(card_id[:2])
        if not parsed:
            return None, 0, 0, "bad_card_number"
        row = self.conn.execute("SELECT body, signature FROM certificates WHERE subject = ? "
                                "AND kind = 'card'", (card_id,)).fetchone()
        if row is None:
            return None, 0, 0, "missing"
        body, sig = row
        if not isinstance(body, bytes) or not isinstance(sig, bytes):
            return None, 0, 0, "malformed"
        try:
            role, v = E.decode(body)
        except E.EncodingError:
            return None, 0, 0, "malformed"
        types = (str, str, str, bytes, int, int, str)
        if role != E.CARD_CERT or len(v) != 7 or not all(isinstance(x, t) for x, t in zip(v, types)):
            return None, 0, 0, "malformed"
        cid, province, alg, pub, nb, na, issuer = v
        if cid != card_id or province != parsed or issuer != issuer_name(parsed):
            return None, 0, 0, "wrong_subject"
        if alg != self.alg.name:
            return None, 0, 0, "wrong_algorithm"
        issuer_key = self.ca.get(issuer)
        if issuer_key is None or not self.verify(issuer_key, sig, body):
            return None, 0, 0, "bad_issuer_signature"
        try:
            key = self.alg.load_public(pub)
        except ValueError:
            return None, 0, 0, "bad_public_key"
        return (pub if self.alg.name == "ed25519" else key), nb, na, None

    def merchant_status(self, row: tuple) -> str | None:
        """What a merchant node checks cryptographically before accepting a card (replay): the
        card's certificate, its validity and the card's signature. A reason code, or None."""
        try:
            card_id = row[_I["card_id"]]
            key, nb, na, bad = self.card(card_id)
            if bad:
                return "bad_card_certificate"
            if not nb <= self.ctx.epoch + row[_I["sim_time"]] <= na:
                return "card_expired"
            msg = E.card_tx_message(*(row[_I[f]] for f in E.CARD_TX_FIELDS))
            return None if self.verify(key, row[_I["card_sig"]], msg) else "bad_card_signature"
        except (ValueError, TypeError, KeyError, E.EncodingError, sqlite3.Error):
            return "bad_card_signature"

    def check(self, rows: list[tuple], t: Tally) -> None:
        """Rows of this worker's cards, in seq order, each followed by whether its prev_hash
        linked to the chain (checked by the coordinator, which alone sees the log's order)."""
        last_atc = self.last_atc
        for item in rows:
            row, linked = item[:-1], item[-1]
            seq, tx_id = row[0], row[1]
            if tuple(map(type, row)) not in _ROW_TYPES:
                t.fail("format", "bad_value_type", seq, tx_id)
                continue
            try:
                hashed = E.sha256(E.record_message(row[:-2])) == row[-1]
            except (ValueError, E.EncodingError):   # e.g. text that is not UTF-8
                t.fail("format", "unusable_values", seq, tx_id)
                continue
            t.ok("format")
            if not linked:
                t.fail("chain", "prev_hash_mismatch", seq, tx_id)
            elif not hashed:
                t.fail("chain", "record_hash_mismatch", seq, tx_id)
            else:
                t.ok("chain")
            card_id, atc = row[_I["card_id"]], row[_I["atc"]]
            last = last_atc.get(card_id)
            if last is None or atc > last:
                t.ok("atc")
                if linked and hashed:   # a record off the chain teaches nothing about the card
                    last_atc[card_id] = atc
            else:
                t.fail("atc", "repeated" if atc == last else "decreased", seq, tx_id)
            try:
                self._check(row, t)
            except (ValueError, TypeError, KeyError, E.EncodingError, sqlite3.Error):
                t.fail("format", "unusable_values", seq, tx_id)

    def _check(self, row: tuple, t: Tally) -> None:
        verify, ctx = self.verify, self.ctx
        seq, tx_id, card_id = row[0], row[1], row[_I["card_id"]]
        key, nb, na, bad = self.card(card_id)
        if bad:
            t.fail("card_certificate", bad, seq, tx_id)
            return
        t.ok("card_certificate")
        now = row[_I["sim_time"]]
        when = ctx.epoch + now
        if nb <= when <= na:
            t.ok("card_validity")
        else:
            t.fail("card_validity", "expired" if when > na else "not_yet_valid", seq, tx_id)
        msg = E.card_tx_message(*(row[_I[f]] for f in E.CARD_TX_FIELDS))
        if verify(key, row[_I["card_sig"]], msg):
            t.ok("card_signature")
        else:
            t.fail("card_signature", "invalid", seq, tx_id)
        self._issuer(row, msg, t)
        self._revocation(row, card_id, now, t)

    def _issuer(self, row, msg: bytes, t: Tally) -> None:
        seq, tx_id = row[0], row[1]
        mode, auth, sig = row[_I["mode"]], row[_I["authoriser"]], row[_I["issuer_sig"]]
        province = CODE_PROVINCE[row[_I["card_id"]][:2]]
        if auth in (ISSUER, STANDIN) and mode == ONLINE:
            signer = HUB if auth == STANDIN else issuer_name(province)
            if row[_I["issuer_id"]] != issuer_name(province):
                t.fail("issuer_signature", "wrong_issuer", seq, tx_id)
                return
            resp = E.auth_response_message(signer, row[_I["outcome"]], row[_I["reason"]], auth,
                                           E.sha256(msg))
            key = self.ca.get(signer)
            if sig is None:
                t.fail("issuer_signature", "missing", seq, tx_id)
            elif key is not None and self.verify(key, sig, resp):
                t.ok("issuer_signature")
            else:
                t.fail("issuer_signature", "invalid", seq, tx_id)
        elif auth == TERMINAL and (mode == OFFLINE or row[_I["reason"]] == "issuer_timeout"):
            if sig is None:
                t.ok("issuer_signature")
            else:
                t.fail("issuer_signature", "unexpected", seq, tx_id)
        else:
            t.fail("issuer_signature", "bad_authoriser", seq, tx_id)

    def _revocation(self, row, card_id: str, now: float, t: Tally) -> None:
        lost = self.reported.get(card_id)
        if lost is None or row[_I["outcome"]] != "approved":
            t.ok("revocation")
            return
        auth = row[_I["authoriser"]]
        province = CODE_PROVINCE[card_id[:2]]
        tprov = row[_I["terminal_province"]]
        if auth == ISSUER:
            knew = now >= lost
        else:  # terminal or stand-in: from the blacklist the terminal's province holds
            knew = tprov in PROVINCES and now >= self.blacklist.reaches(lost, province, tprov)
        if knew:
            t.fail("revocation", f"approved_after_{'report' if auth == ISSUER else 'blacklist'}",
                   row[0], row[1])
        else:
            t.ok("revocation")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _verifier_keys(ca_keys: dict, alg: Algorithm) -> dict:
    """name -> public key as :func:`_fast_verifier` takes it (Ed25519: raw bytes for libsodium)."""
    keys = {n: serialization.load_der_public_key(der) for n, der in ca_keys.items()}
    if alg.name == "ed25519":
        return {n: k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                for n, k in keys.items()}
    return keys


def _fast_verifier(alg: Algorithm) -> Callable:
    """Ed25519: libsodium's verification, stricter than OpenSSL's (canonical S and points) and
    about twice as fast here: a faster trusted primitive. ECDSA: pyca/cryptography."""
    if alg.name != "ed25519":
        return alg.verify
    from nacl import bindings
    from nacl.exceptions import BadSignatureError

    open_ = bindings.crypto_sign_open

    def verify(pub: bytes, sig, msg: bytes) -> bool:
        if not isinstance(sig, bytes) or len(sig) != 64:
            return False
        try:
            open_(sig + msg, pub)
            return True
        except (BadSignatureError, ValueError):
            return False
    return verify


# --- worker processes ---------------------------------------------------------------------------



def _worker(conn, ctx: Context) -> None:
    t = Tally()
    try:
        checker = RecordChecker(ctx)
        while True:
            msg = pickle.loads(conn.recv_bytes())
            if msg is None:
                break
            checker.check(msg, t)
        conn.send(("ok", t))
    except EOFError:
        return
    except Exception as e:  # pragma: no cover - reported to the coordinator
        conn.send(("error", f"{type(e).__name__}: {e}"))


# --- the coordinator ------------------------------------------------------------------------------

def verify(path: str | Path, keys_dir: str | Path = "keys", workers: int = 1,
           progress: Callable[[int], None] | None = None) -> Report:
    """Verify the log at ``path`` against the root certificate in ``keys_dir``."""
    root = load_trust_anchor(keys_dir)
    for text_factory in (str, _text):
        conn = open_log(path)
        # Performance shortcut: SQLite's own UTF-8 decoding; only a log holding undecodable text
        # is read again with a Python decoder that turns such values into findings.
        conn.text_factory = text_factory
        try:
            return _verify(conn, str(path), root, max(1, workers), progress)
        except sqlite3.OperationalError as e:
            if text_factory is str and "decode" in str(e):
                continue
            raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
        except (sqlite3.DatabaseError, UnicodeDecodeError, ValueError) as e:
            raise CardsimError(f"{path}: unreadable log: {one_line(e)}") from None
        finally:
            conn.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _verify(conn, path: str, root: x509.Certificate, workers: int, progress) -> Report:
    run = read_run(conn, path)
    t = Tally()
    signed = run.get("signed") == 1
    algorithm = run.get("algorithm")
    if not signed or algorithm not in ALGORITHMS:
        n = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
        t.fail("format", "unsigned_log")
        return Report(path, n, t.passed, t.failed, tuple(t.findings), False, False, None)
    alg = ALGORITHMS[algorithm]
    config_json, seed = run.get("config_json"), run.get("seed")
    from cardsim.config.scenario import from_config_json
    try:
        scenario = from_config_json(config_json if isinstance(config_json, str) else "", path)
    except CardsimError:
        scenario = None
    if scenario is None or not isinstance(seed, int):
        t.fail("format", "bad_runs_row")
        return Report(path, 0, t.passed, t.failed, tuple(t.findings), False, True, algorithm)
    pcfg = scenario.config["provinces"]
    start, end = scenario.epoch, scenario.epoch + scenario.duration_s
    ca = _check_ca_layer(conn, root, alg, start, end, t)
    ctx = Context(path, algorithm, ca, scenario.epoch,
                  {p: pcfg[p]["blacklist_push_delay_s"] for p in PROVINCES},
                  {p: pcfg[p]["blacklist_push_interval_s"] for p in PROVINCES})
    genesis = E.genesis_hash(config_json, seed)
    checkpoints = _read_checkpoints(conn, ca.get(HUB), alg, genesis, t)
    uploads = UploadCheck(conn, alg, ca, scenario.epoch, t)
    _check_blacklist(conn, ca, alg, t)

    procs, pipes, local = [], [], None
    if workers == 1:
        local = RecordChecker(ctx)
    else:
        pipes, procs = start_workers(_worker, workers, ctx)

    head, expected, n = genesis, 1, 0
    heads_at: dict[int, bytes] = {}
    wanted = {cp[1] for cp in checkpoints if isinstance(cp[1], int)}
    batch: list[tuple] = []

    def ship(rows):
        if local is not None:
            local.check(rows, t)
            return
        shards = [[] for _ in range(workers)]
        for r in rows:
            shards[int(r[_CARD]) % workers].append(r)
        for pipe, part in zip(pipes, shards):
            if part:
                pipe.send_bytes(pickle.dumps(part, pickle.HIGHEST_PROTOCOL))

    # The coordinator checks only what needs the log's order: seq and the prev_hash links.
    # Everything per record (types, record hash, ATC per card, certificates, signatures) runs
    # in the card-sharded workers, which see each card's records in seq order.
    cur = conn.execute("SELECT * FROM transactions ORDER BY seq")
    ncols = len(COLUMN_NAMES)
    for row in cur:
        n += 1
        seq, tx_id = row[0], row[1]
        card_id, stored = row[_CARD] if len(row) > _CARD else None, row[-1] if row else None
        if (len(row) != ncols or not isinstance(seq, int) or not isinstance(stored, bytes)
                or not isinstance(card_id, str)):
            t.fail("format", "bad_value_type", seq, tx_id)
            if isinstance(stored, bytes) and len(row) >= 2 and isinstance(row[-2], bytes):
                head = E.link(row[-2], stored)
            expected = seq + 1 if isinstance(seq, int) else expected + 1
            continue
        if seq == expected:
            t.ok("sequence")
        else:
            t.fail("sequence", "gap" if seq > expected else "repeated_or_out_of_order", seq, tx_id)
        expected = seq + 1
        prev = row[-2]
        linked = prev == head
        # the stored prev_hash carries the chain on: a deleted or inserted record is one finding
        head = E.link(prev if isinstance(prev, bytes) else head, stored)
        if seq in wanted:
            heads_at[seq] = head
        uploads.add(row)
        if card_id.isdigit():
            batch.append(row + (linked,))
        else:
            t.fail("card_certificate", "bad_card_number", seq, tx_id)
        if len(batch) >= BATCH:
            ship(batch)
            # the earliest time in the batch: one record moved far ahead cannot close batches
            # that later records still belong to
            early = min((r[_TIME] for r in batch if type(r[_TIME]) is float), default=None)
            if early is not None:
                uploads.close(early)
            batch = []
            if progress:
                progress(n)
    if batch:
        ship(batch)
    if progress:
        progress(n)
    uploads.close(None)
    _check_checkpoints(checkpoints, heads_at, n, head, t)
    for pipe in pipes:
        pipe.send_bytes(pickle.dumps(None))
    for pipe, p in zip(pipes, procs):
        status, payload = pipe.recv()
        if status != "ok":
            raise CardsimError(f"{path}: verification worker failed: {payload}")
        t.merge(payload)
        p.join()
    findings = sorted(t.findings)
    return Report(path, n, t.passed, t.failed, tuple(findings[:MAX_FINDINGS]),
                  sum(t.failed.values()) > len(findings[:MAX_FINDINGS]), True, algorithm)


class UploadCheck:
    """The terminals' uploads, checked in the coordinator as the records stream past in seq
    order: records are grouped by the writer's batch rule (``upload.Batches``) and each closed
    batch is matched against its ``uploads`` row. Per upload: one terminal signature."""

    def __init__(self, conn, alg: Algorithm, ca: dict, epoch: int, t: Tally):
        self.alg, self.epoch, self.t = alg, epoch, t
        self.verify = _fast_verifier(alg)
        self.conn = conn
        self.merchants = _verifier_keys(ca, alg)      # the CA layer; merchants' keys used here
        self.terminals: dict[str, tuple] = {}
        self.batches = Batches()
        self.expected: dict[tuple, tuple] = {}
        self.active = True
        self.rows: list[tuple] = []
        types = tuple(UPLOAD_COLUMNS.values())
        try:
            rows = conn.execute("SELECT * FROM uploads ORDER BY upload").fetchall()
        except sqlite3.Error:
            t.fail("uploads", "no_uploads_table")
            self.active = False
            return
        last: dict[str, int] = {}       # terminal -> its last upload number seen
        for row in rows:
            if len(row) != len(types) or not all(isinstance(v, ty) for v, ty in zip(row, types)):
                t.fail("uploads", f"malformed:{row[0]}")
                continue
            key = (row[1], row[4])
            if key in self.expected:
                t.fail("uploads", f"duplicate:{row[0]}")
                continue
            self.expected[key] = row
            self.rows.append(row)
            # each terminal numbers its uploads 1, 2, ... in time order, which is the table's
            # order: a gap is an upload left out of the log
            want = last.get(row[1], 0) + 1
            if row[3] != want:
                t.fail("uploads", f"number_gap:{row[1]}#{want}")
            last[row[1]] = max(row[3], last.get(row[1], 0))

    def add(self, row: tuple) -> None:
        # a terminal id or upload time of the wrong type is a format finding (workers)
        if self.active and type(row[_UPLOADED]) is float and type(row[_TERMINAL]) is str:
            self.batches.add(row[_TERMINAL], row[_UPLOADED], row[_MERCHANT], row[0], row[-1])

    def close(self, now) -> None:
        """Match every batch complete at ``now`` (None: all of them, at the end of the log)."""
        if not self.active:
            return
        t = self.t
        for terminal_id, uploaded_at, merchant_id, seqs, hashes in self.batches.close(now):
            up = self.expected.pop((terminal_id, uploaded_at), None)
            if up is None:
                for s in seqs:
                    t.fail("uploads", "not_uploaded", s)
                continue
            number, _tid, up_merchant, unum, _at, count, digest, sig = up
            where = f"{number}:{terminal_id}@{uploaded_at:g}"
            key = self._terminal(terminal_id, up_merchant, uploaded_at, where)
            if key is None:
                continue
            msg = E.upload_message(terminal_id, up_merchant, unum, uploaded_at, count, digest)
            if not self.verify(key, sig, msg):
                t.fail("uploads", f"bad_signature:{where}")
            elif count != len(hashes):
                t.fail("uploads", f"count_differs:{where}")
            elif digest != E.records_digest(hashes) or merchant_id != up_merchant:
                t.fail("uploads", f"digest_differs:{where}")
            else:
                t.ok("uploads")
        if now is None:
            for number, terminal_id, _m, _n, uploaded_at, *_ in self.expected.values():
                t.fail("uploads", f"no_records:{number}:{terminal_id}@{uploaded_at:g}")
            self._check_merchant_totals()

    def _check_merchant_totals(self) -> None:
        """Each merchant's signed totals against the uploads the log holds for its terminals."""
        t = self.t
        per: dict[str, dict[str, list]] = {}
        for _n, terminal_id, merchant_id, _num, _at, count, _d, _s in self.rows:
            tot = per.setdefault(merchant_id, {}).setdefault(terminal_id, [0, 0])
            tot[0] += 1
            tot[1] += count
        try:
            signed = {r[0]: r for r in self.conn.execute("SELECT * FROM merchant_totals")}
        except sqlite3.Error:
            t.fail("merchant_totals", "no_merchant_totals_table")
            return
        for merchant_id in merchant_ids():
            row = signed.pop(merchant_id, None)
            if row is None:
                t.fail("merchant_totals", f"missing:{merchant_id}")
                continue
            _m, terminals, uploads, records, digest, sig = row
            mine = [(tid, n, r) for tid, (n, r) in per.get(merchant_id, {}).items()]
            key = self.merchants.get(merchant_name(merchant_id))
            ok_types = all(isinstance(v, int) for v in (terminals, uploads, records)) and \
                isinstance(digest, bytes) and isinstance(sig, bytes)
            if not ok_types or key is None or not self.verify(
                    key, sig, E.merchant_totals_message(merchant_id, terminals, uploads, records,
                                                        digest)):
                t.fail("merchant_totals", f"bad_signature:{merchant_id}")
            elif (terminals, uploads, records) != (len(mine), sum(m[1] for m in mine),
                                                   sum(m[2] for m in mine)):
                t.fail("merchant_totals", f"count_differs:{merchant_id}")
            elif digest != E.terminals_digest(mine):
                t.fail("merchant_totals", f"digest_differs:{merchant_id}")
            else:
                t.ok("merchant_totals")
        for merchant_id in signed:
            t.fail("merchant_totals", f"unknown_merchant:{merchant_id}")

    def _terminal(self, terminal_id: str, merchant_id: str, uploaded_at: float, where: str):
        """The terminal's public key if its certificate checks out for this upload, else None
        (and a ``terminal_certificate`` finding)."""
        got = self.terminals.get(terminal_id)
        if got is None:
            got = self.terminals[terminal_id] = self._load_terminal(terminal_id)
        key, merchant, nb, na, bad = got
        if bad is None and merchant != merchant_id:
            bad = "wrong_merchant"
        if bad is None and not nb <= self.epoch + uploaded_at <= na:
            bad = "not_valid_at_upload"
        if bad is not None:
            self.t.fail("terminal_certificate", f"{bad}:{where}")
            return None
        self.t.ok("terminal_certificate")
        return key

    def _load_terminal(self, terminal_id: str) -> tuple:
        row = self.conn.execute("SELECT issuer, body, signature FROM certificates WHERE subject = ? "
                                "AND kind = 'terminal'", (terminal_id,)).fetchone()
        if row is None:
            return None, None, 0, 0, "missing"
        issuer, body, sig = row
        if not isinstance(body, bytes) or not isinstance(sig, bytes):
            return None, None, 0, 0, "malformed"
        try:
            role, v = E.decode(body)
        except E.EncodingError:
            return None, None, 0, 0, "malformed"
        types = (str, str, str, bytes, int, int)
        if (role != E.TERMINAL_CERT or len(v) != 6
                or not all(isinstance(x, ty) for x, ty in zip(v, types))):
            return None, None, 0, 0, "malformed"
        tid, merchant_id, alg, pub, nb, na = v
        if tid != terminal_id or issuer != merchant_name(merchant_id):
            return None, None, 0, 0, "wrong_subject"
        if alg != self.alg.name:
            return None, None, 0, 0, "wrong_algorithm"
        mkey = self.merchants.get(merchant_name(merchant_id))
        if mkey is None or not self.verify(mkey, sig, body):
            return None, None, 0, 0, "bad_merchant_signature"
        try:
            key = self.alg.load_public(pub)
        except ValueError:
            return None, None, 0, 0, "bad_public_key"
        return (pub if self.alg.name == "ed25519" else key), merchant_id, nb, na, None


def _check_blacklist(conn, ca: dict, alg: Algorithm, t: Tally) -> None:
    """Each province's loss reports against its issuer's signed count and digest. Without this,
    deleting a loss report would hide it from the revocation check."""
    reports: dict[str, list] = {p: [] for p in PROVINCES}
    signed: dict[str, tuple] = {}
    try:
        for cid, prov, at in conn.execute("SELECT card_id, card_province, reported_at FROM blacklist"):
            if prov in reports and isinstance(cid, str) and isinstance(at, float):
                reports[prov].append((cid, at))
            else:
                t.fail("blacklist", f"malformed_report:{cid!r}")
        for row in conn.execute("SELECT province, issuer, count, reports_digest, signature "
                                "FROM blacklist_signatures"):
            signed[row[0]] = row
    except sqlite3.Error:
        t.fail("blacklist", "no_blacklist_signatures")
        return
    for province in PROVINCES:
        row = signed.get(province)
        if row is None:
            t.fail("blacklist", f"missing:{province}")
            continue
        _p, issuer, count, digest, sig = row
        der = ca.get(issuer_name(province))
        ok_types = isinstance(count, int) and isinstance(digest, bytes) and isinstance(sig, bytes)
        if (issuer != issuer_name(province) or der is None or not ok_types
                or not alg.verify(serialization.load_der_public_key(der), sig,
                                  E.blacklist_message(issuer, province, count, digest))):
            t.fail("blacklist", f"bad_signature:{province}")
        elif count != len(reports[province]):
            t.fail("blacklist", f"count_differs:{province}")
        elif digest != E.loss_reports_digest(reports[province]):
            t.fail("blacklist", f"digest_differs:{province}")
        else:
            t.ok("blacklist")


def _check_ca_layer(conn, root, alg: Algorithm, start: float, end: float, t: Tally) -> dict:
    """Check the log's CA certificates against the trusted root; returns name -> DER public key."""
    good = {}
    rows = {}
    for subject, body in conn.execute("SELECT subject, body FROM certificates WHERE kind = 'x509'"):
        rows[subject] = body
    root_der = root.public_bytes(serialization.Encoding.DER)
    for name in all_names():
        body = rows.get(name)
        if not isinstance(body, bytes):
            t.fail("certificates", f"missing:{name}")
            continue
        if name == ROOT:
            if body == root_der:
                t.ok("certificates")
            else:
                t.fail("certificates", "root_not_trusted")
            continue
        try:
            cert = x509.load_der_x509_certificate(body)
            cert.verify_directly_issued_by(root)
        except Exception:
            t.fail("certificates", f"not_issued_by_trusted_root:{name}")
            continue
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if not cn or cn[0].value != name:
            t.fail("certificates", f"wrong_subject:{name}")
            continue
        lo = cert.not_valid_before_utc.timestamp()
        hi = cert.not_valid_after_utc.timestamp()
        if not (lo <= start and end <= hi):
            t.fail("certificates", f"not_valid_during_run:{name}")
            continue
        t.ok("certificates")
        good[name] = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    return good


def _read_checkpoints(conn, hub_der, alg: Algorithm, genesis: bytes, t: Tally) -> list[tuple]:
    """Checkpoints whose signature verifies (others are findings), in checkpoint order."""
    hub = serialization.load_der_public_key(hub_der) if hub_der else None
    good = []
    for row in conn.execute("SELECT checkpoint, count, head, sim_time, final, signer, signature "
                            "FROM checkpoints ORDER BY checkpoint"):
        number, count, head, sim_time, final, signer, sig = row
        if not (isinstance(count, int) and isinstance(head, bytes) and isinstance(sim_time, float)
                and final in (0, 1)):
            t.fail("checkpoints", f"malformed:{number}")
            continue
        msg = E.checkpoint_message(genesis, count, head, sim_time, final)
        if signer != HUB or hub is None or not alg.verify(hub, sig, msg):
            t.fail("checkpoints", f"bad_signature:{number}")
            continue
        good.append(row)
    return good


def _check_checkpoints(checkpoints, heads_at: dict, n: int, head: bytes, t: Tally) -> None:
    finals = [cp for cp in checkpoints if cp[4] == 1]
    for number, count, chead, _t, final, _s, _sig in checkpoints:
        if count > n:
            t.fail("checkpoints", f"count_beyond_log:{number}")
        elif heads_at.get(count) != chead:
            t.fail("checkpoints", f"head_mismatch:{number}")
        else:
            t.ok("checkpoints")
    if not finals:
        t.fail("checkpoints", "no_final_checkpoint")
    elif finals[-1][1] != n:
        t.fail("checkpoints", "final_count_differs")

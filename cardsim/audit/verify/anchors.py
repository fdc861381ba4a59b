"""Trust anchors: the log's CA layer checked to the trusted root, the hub's signed checkpoints
(signed tree heads) over the hash chain and the Merkle tree, and each issuer's signature over its province's loss reports."""

from __future__ import annotations

import sqlite3
from collections import namedtuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardsim.audit.verify.findings import Tally
from cardsim.audit.verify.records import Context
from cardsim.config.scenario import Scenario
from cardsim.domain import PROVINCES
from cardsim.records import encoding as E
from cardsim.signing.crypto import Algorithm
from cardsim.signing.keys import HUB, ROOT, all_names, issuer_name, role_problem

#: One row of the ``checkpoints`` table.
Checkpoint = namedtuple("Checkpoint", "checkpoint count head root sim_time final signer signature")


def record_context(conn, path: str, alg: Algorithm, scenario: Scenario, root: x509.Certificate,
                   t: Tally) -> Context:
    """What the per-record checks need: the CA layer checked against ``root`` (findings in
    ``t``) and the scenario's epoch and blacklist timing."""
    start, end = scenario.epoch, scenario.epoch + scenario.duration_s
    ca = check_ca_layer(conn, root, start, end, t)
    pcfg = scenario.config["provinces"]
    return Context(path, alg.name, ca, scenario.epoch,
                   {p: pcfg[p]["blacklist_push_delay_s"] for p in PROVINCES},
                   {p: pcfg[p]["blacklist_push_interval_s"] for p in PROVINCES},
                   {p: [(a * 3600.0, b * 3600.0) for a, b in pcfg[p]["issuer"]["outages"]]
                    for p in PROVINCES})


def check_ca_layer(conn, root: x509.Certificate, start: float, end: float, t: Tally) -> dict:
    """Check the log's CA certificates against the trusted root; returns name -> DER public key
    of each one that checks out."""
    rows = dict(conn.execute("SELECT subject, body FROM certificates WHERE kind = 'x509'"))
    root_der = root.public_bytes(serialization.Encoding.DER)
    good = {}
    for name in all_names():
        body = rows.get(name)
        if not isinstance(body, bytes):
            t.fail("certificates", f"missing:{name}")
        elif name == ROOT:
            if body == root_der:
                t.ok("certificates")
            else:
                t.fail("certificates", "root_not_trusted")
        else:
            der = _ca_certificate(body, name, root, start, end, t)
            if der is not None:
                good[name] = der
    return good


def _ca_certificate(body: bytes, name: str, root: x509.Certificate, start: float, end: float,
                    t: Tally) -> bytes | None:
    """The DER public key of one CA-layer certificate if it checks out, else None (a finding)."""
    try:
        cert = x509.load_der_x509_certificate(body)
        cert.verify_directly_issued_by(root)
    except Exception:
        t.fail("certificates", f"not_issued_by_trusted_root:{name}")
        return None
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not cn or cn[0].value != name:
        t.fail("certificates", f"wrong_subject:{name}")
        return None
    if role_problem(cert, name) is not None:      # its basic constraints or key usage
        t.fail("certificates", f"wrong_role:{name}")
        return None
    lo = cert.not_valid_before_utc.timestamp()
    hi = cert.not_valid_after_utc.timestamp()
    if not (lo <= start and end <= hi):
        t.fail("certificates", f"not_valid_during_run:{name}")
        return None
    t.ok("certificates")
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def wrong_root(t: Tally, ca: dict) -> bool:
    """True when the log was made under another root than the trusted one: its root certificate
    is not the trust anchor and not one of its CA certificates chains to the anchor. Every other
    check would then fail for that one reason."""
    return not ca and any(f.reason == "root_not_trusted" for f in t.findings)


def read_checkpoints(conn, hub_der: bytes | None, alg: Algorithm, genesis: bytes,
                     t: Tally) -> list[Checkpoint]:
    """Checkpoints whose signature verifies (others are findings), in checkpoint order."""
    hub = serialization.load_der_public_key(hub_der) if hub_der else None
    good = []
    for row in conn.execute("SELECT checkpoint, count, head, root, sim_time, final, signer, "
                            "signature FROM checkpoints ORDER BY checkpoint"):
        cp = Checkpoint._make(row)
        if not _well_formed(cp):
            t.fail("checkpoints", f"malformed:{cp.checkpoint}")
            continue
        msg = E.checkpoint_message(genesis, cp.count, cp.head, cp.root, cp.sim_time, cp.final)
        if cp.signer != HUB or hub is None or not alg.verify(hub, cp.signature, msg):
            t.fail("checkpoints", f"bad_signature:{cp.checkpoint}")
            continue
        good.append(cp)
    return good


def check_predecessor(conn, hub_der: bytes | None, alg: Algorithm, t: Tally) -> None:
    """A log that follows another (linked days) holds that log's final signed tree head: it must
    carry the hub's signature (the new log's id commits to it; a series verify checks it is the
    previous log's final head). Nothing to check in a log that follows none."""
    rows = conn.execute("SELECT log_id, count, head, root, sim_time, final, signer, signature "
                        "FROM predecessor").fetchall()
    if len(rows) > 1:
        t.fail("checkpoints", "several_predecessors")
        return
    hub = serialization.load_der_public_key(hub_der) if hub_der else None
    for row in rows:
        reason = _predecessor_problem(row, hub, alg)
        if reason is None:
            t.ok("checkpoints")
        else:
            t.fail("checkpoints", reason)


def _predecessor_problem(row: tuple, hub, alg: Algorithm) -> str | None:
    log_id, count, head, root, sim_time, final, signer, sig = row
    if not (isinstance(log_id, bytes) and isinstance(count, int) and isinstance(head, bytes)
            and isinstance(root, bytes) and isinstance(sim_time, float) and final == 1):
        return "predecessor_malformed"
    msg = E.checkpoint_message(log_id, count, head, root, sim_time, final)
    if signer != HUB or hub is None or not alg.verify(hub, sig, msg):
        return "predecessor_bad_signature"
    return None


def _well_formed(cp: Checkpoint) -> bool:
    return (isinstance(cp.count, int) and isinstance(cp.head, bytes) and isinstance(cp.root, bytes)
            and isinstance(cp.sim_time, float) and cp.final in (0, 1))


def check_checkpoints(checkpoints: list[Checkpoint], heads_at: dict, n: int, t: Tally) -> None:
    """Each signed checkpoint (tree head) against the chain head and the Merkle tree root after
    its count of records (``heads_at``: count -> (head, root)); the final one must cover all
    ``n`` records."""
    for cp in checkpoints:
        head, root = heads_at.get(cp.count, (None, None))
        if cp.count > n:
            t.fail("checkpoints", f"count_beyond_log:{cp.checkpoint}")
        elif head != cp.head:
            t.fail("checkpoints", f"head_mismatch:{cp.checkpoint}")
        elif root != cp.root:
            t.fail("checkpoints", f"root_mismatch:{cp.checkpoint}")
        else:
            t.ok("checkpoints")
    finals = [cp for cp in checkpoints if cp.final == 1]
    if not finals:
        t.fail("checkpoints", "no_final_checkpoint")
    elif finals[-1].count != n:
        t.fail("checkpoints", "final_count_differs")


def check_tree_blocks(conn, computed: list[bytes], t: Tally) -> None:
    """The stored block roots (``tree_blocks``, what proofs are made from) against the roots of
    the log's own blocks of record hashes: one finding per block that differs, is missing or
    lies beyond the log."""
    stored = dict(conn.execute("SELECT block, root FROM tree_blocks"))
    for k, root in enumerate(computed):
        got = stored.pop(k, None)
        if got is None:
            t.fail("checkpoints", f"tree_block_missing:{k}")
        elif got != root:
            t.fail("checkpoints", f"tree_block_mismatch:{k}")
    for k in sorted(stored, key=repr)[:100]:
        t.fail("checkpoints", f"tree_block_beyond_log:{k}")


def check_blacklist(conn, reports: dict[str, list], ca: dict, alg: Algorithm,
                    period: tuple[bytes, float], t: Tally) -> None:
    """Each province's loss reports (``reports``: the coordinator's one reading of the
    ``blacklist`` table, the rows the revocation check uses too) against its issuer's signed count
    and digest, for this log and period (``period``: the log id and the run's end in simulated
    seconds). Without this, deleting a loss report would hide it from the revocation check."""
    try:
        signed = {row[0]: row for row in conn.execute(
            "SELECT province, issuer, count, reports_digest, signature FROM blacklist_signatures")}
    except sqlite3.Error:
        t.fail("blacklist", "no_blacklist_signatures")
        return
    for province in PROVINCES:
        row = signed.get(province)
        if row is None:
            t.fail("blacklist", f"missing:{province}")
            continue
        reason = _province_finding(row, reports.get(province, []), ca, alg, period)
        if reason is None:
            t.ok("blacklist")
        else:
            t.fail("blacklist", f"{reason}:{province}")


def _province_finding(row: tuple, reports: list, ca: dict, alg: Algorithm,
                      period: tuple[bytes, float]) -> str | None:
    """Why one province's signed loss reports fail (None: they hold); a list signed for another
    log or period fails its signature."""
    province, issuer, count, digest, sig = row
    der = ca.get(issuer_name(province))
    ok_types = isinstance(count, int) and isinstance(digest, bytes) and isinstance(sig, bytes)
    if (issuer != issuer_name(province) or der is None or not ok_types
            or not alg.verify(serialization.load_der_public_key(der), sig,
                              E.blacklist_message(*period, issuer, province, count, digest))):
        return "bad_signature"
    if count != len(reports):
        return "count_differs"
    if digest != E.loss_reports_digest(reports):
        return "digest_differs"
    return None


def check_card_state(conn, hub_der: bytes | None, alg: Algorithm, period: tuple[bytes, float],
                     t: Tally) -> None:
    """The cards' final state (``card_state``, what a log that follows this one starts from)
    against the hub's signed count and digest, for this log and period: without this, an edited
    row would carry a forged stored value or quota into the next day."""
    try:
        rows = conn.execute("SELECT * FROM card_state").fetchall()
        signed = conn.execute("SELECT signer, count, states_digest, signature "
                              "FROM card_state_signature").fetchall()
    except sqlite3.Error:
        t.fail("card_state", "unreadable")
        return
    if len(signed) != 1:
        t.fail("card_state", "no_signature" if not signed else "several_signatures")
        return
    signer, count, digest, sig = signed[0]
    hub = serialization.load_der_public_key(hub_der) if hub_der else None
    ok_types = isinstance(count, int) and isinstance(digest, bytes) and isinstance(sig, bytes)
    if (signer != HUB or hub is None or not ok_types
            or not alg.verify(hub, sig, E.card_state_message(*period, count, digest))):
        t.fail("card_state", "bad_signature")
    elif count != len(rows):
        t.fail("card_state", "count_differs")
    elif digest != _states_digest(rows):
        t.fail("card_state", "digest_differs")
    else:
        t.ok("card_state")


def _states_digest(rows: list[tuple]) -> bytes | None:
    """The digest of ``card_state`` rows, None when a row cannot be encoded (a value of the wrong
    type: it cannot be what the hub signed)."""
    try:
        return E.card_states_digest(rows)
    except (E.EncodingError, TypeError):
        return None

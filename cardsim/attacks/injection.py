"""Attack injection with ground truth, for security reviewers and testers.

An attacker can clone a card whose keys it extracted, sign with keys of its own, forge
certificates with keys of its own, use lost or expired cards at terminals that let them through,
and edit, delete, reorder or cut a log file. It cannot make a valid issuer or hub signature.

- In-run attacks (:class:`Attacker`, the simulation's ``attacker`` hook) emit records through
  ``Simulation.inject`` at random simulated times, each marked with its kind; the signing workers
  sign the marked rows as the attacker would (:func:`attack_signature`, the signers'
  ``attack_signer`` hook), and the log owner chains and checkpoints them like every other record:
  they are what the nodes accepted.
- Post-run attacks (:func:`tamper_log`) edit the finished SQLite file.

``cardsim.api`` plugs both hooks in (:func:`attacker_for`, ``SignSpec.attack_signer``); nothing
below it imports this package.

Every injection is written to the ``ground_truth`` table, which ``cardsim verify`` never reads;
:func:`compare` matches it against a verification report.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from cardsim.config.schema import IN_RUN_ATTACKS
from cardsim.errors import CardsimError
from cardsim.log.container import connect_readonly
from cardsim.log.store import GROUND_TRUTH_SQL
from cardsim.records.encoding import card_cert_body
from cardsim.records.record import (APPROVED, MODEL_COLUMN_NAMES, OFFLINE, TERMINAL, columns_getter,
                                    issuer_id_for, tx_id_for)
from cardsim.signing.certificate import Certificate
from cardsim.signing.keys import DerivedKeys, issuer_name
from cardsim.signing.signer import RecordSigner, card_message

#: Attacks on the finished log file (the others are in-run: config.schema.IN_RUN_ATTACKS).
POST_RUN_ATTACKS = ("tampered_records", "deleted_records", "reordered_records", "truncated_records")
GROUND_TRUTH_COLUMNS = {"id": int, "attack": str, "seq": int, "tx_id": str, "detail": str,
                        "expect_seq": int}
#: The attacker's own key material: fixed, outside the trust chain.
ATTACKER_SECRET = b"cardsim/attacker/not-an-issuer-key/v1".ljust(32, b"\0")[:32]
_card = columns_getter("card_id", "card_province")
#: The columns of a row the model emits that its caller gives (seq, tx_id and the unpredictable
#: number are the model's).
_TAIL_COLUMNS = MODEL_COLUMN_NAMES[2:-1]


def attacker_for(sim) -> "Attacker | None":
    """The in-run attacker of ``sim``'s scenario (for ``Simulation.run(attacker=...)``), or None
    when the scenario injects no in-run attack."""
    acfg = sim.cfg["attacks"]
    if not any(acfg[k] for k in IN_RUN_ATTACKS):
        return None
    return Attacker(sim, acfg, sim.streams.rng("attacks"))


class Attacker:
    """Schedules the in-run attacks of a scenario in a :class:`cardsim.model.simulation.Simulation`."""

    def __init__(self, sim, acfg: dict, rng: np.random.Generator):
        self.sim = sim
        self.rng = rng
        self.truth: list[tuple] = []       # (attack, seq, tx_id, detail, expect_seq)
        self.plan = []
        d = sim.duration
        for kind in ("foreign_key_records", "forged_certificates", "revoked_card_uses",
                     "expired_card_uses"):
            for t in rng.uniform(0.1 * d, 0.95 * d, acfg[kind]).tolist():
                self.plan.append((t, kind, None))
        for c in range(acfg["cloned_cards"]):
            uses = sorted(rng.uniform(0.3 * d, 0.95 * d, 3).tolist())
            for t in uses:
                self.plan.append((t, "cloned_cards", c))
        self.plan.sort(key=lambda x: (x[0], x[1], -1 if x[2] is None else x[2]))
        self.clones: dict[int, tuple] = {}   # clone number -> (card, skimmed ATC)

    def process(self, env):
        for t, kind, extra in self.plan:
            if t > env.now:
                yield env.timeout(t - env.now)
            getattr(self, "_" + kind)(extra)

    # each in-run attack emits one record (or none when its precondition is absent)

    def _pick_used_card(self, prov: str):
        pop = self.sim.population[prov]
        for _ in range(200):
            serial = int(self.rng.integers(0, pop.active))
            card = pop.used(serial)
            if card is not None and card.atc > pop.peek(serial).atc:
                return card
        return None

    def _emit(self, kind: str, card_id: str, prov: str, tprov: str, atc: int, amount: int,
              balance: int, detail: str, category: str = "adult") -> None:
        sim = self.sim
        now = sim.env.now
        sp = sim.points[tprov]["metro"]
        k = int(self.rng.integers(0, len(sp.banks)))
        merchant = sp.merchant
        record = {   # an offline metro tap the terminal approved
            "sim_time": now, "arrival_time": now, "wait_s": 0.0, "channel": "transit",
            "service": "metro", "card_id": card_id, "card_province": prov, "category": category,
            "terminal_id": sp.terminal_ids[k][0], "terminal_province": tprov,
            "merchant_id": merchant.merchant_id, "issuer_id": issuer_id_for(prov),
            "amount_fen": amount, "concession": None, "atc": atc, "mode": OFFLINE,
            "outcome": APPROVED, "reason": None, "authoriser": TERMINAL, "auth_latency_s": None,
            "balance_fen": balance, "uploaded_at": merchant.upload_time(now), "trip_km": 5.0,
            "decided_at": now}
        tail = tuple(record[name] for name in _TAIL_COLUMNS)
        seq = sim.inject(tail, "transit", tprov, prov, APPROVED, None, amount, mark=kind)
        self.truth.append((kind, seq, tx_id_for(seq), detail, seq))

    def _cloned_cards(self, clone: int) -> None:
        if clone not in self.clones:
            prov = "sichuan" if clone % 2 == 0 else "chongqing"
            card = self._pick_used_card(prov)
            if card is None:
                return
            self.clones[clone] = (card, card.atc)      # skimmed: keys and counter copied
        card, atc = self.clones[clone]
        other = self.sim.other[card.province]
        self._emit("cloned_cards", card.card_id, card.province, other, atc, 300,
                   card.balance_fen, f"clone {clone} of {card.card_id} repeats ATC {atc}",
                   card.category)

    def _foreign_key_records(self, _):
        prov = "sichuan" if self.rng.random() < 0.6 else "chongqing"
        card = self._pick_used_card(prov)
        if card is None:
            return
        card.atc += 1
        self._emit("foreign_key_records", card.card_id, prov, prov, card.atc, 400,
                   card.balance_fen, "card signature made with the attacker's key", card.category)

    def _fresh_card(self, prov: str, offset: int):
        """A card beyond the active pool (never used in the run), as an attacker would bring."""
        pop = self.sim.population[prov]
        return pop.peek(pop.active + offset)

    def _forged_certificates(self, _):
        prov = "sichuan" if self.rng.random() < 0.5 else "chongqing"
        card = self._fresh_card(prov, 1000 + len(self.truth))
        self._emit("forged_certificates", card.card_id, prov, prov, card.atc + 1, 300,
                   card.balance_fen - 300, "card certificate signed by the attacker's key")

    def _expired_card_uses(self, _):
        prov = "sichuan" if self.rng.random() < 0.5 else "chongqing"
        card = self._fresh_card(prov, 500_000 + len(self.truth))
        self._emit("expired_card_uses", card.card_id, prov, prov, card.atc + 1, 300,
                   card.balance_fen - 300, "card certificate expired before the transaction")

    def _revoked_card_uses(self, _):
        sim = self.sim
        now = sim.env.now
        ready = [(cid, prov) for cid, prov, t in sim.lost
                 if sim.blacklist.reaches(t, prov, prov) <= now]
        if not ready:
            return
        cid, prov = ready[int(self.rng.integers(0, len(ready)))]
        card = sim.population[prov].get(int(cid[2:]))
        card.atc += 1
        self._emit("revoked_card_uses", cid, prov, prov, card.atc, 300, card.balance_fen,
                   "approved offline after the blacklist reached the terminal", card.category)


def attack_signature(kind: str, row: tuple, signer: RecordSigner
                     ) -> tuple[bytes | None, Certificate | None]:
    """How the attacker signs a row marked ``kind`` in a signing process (the signers'
    ``attack_signer`` hook): (card signature or None for the genuine card key, the certificate
    the attacker brings or None)."""
    card_id, province = _card(row)
    if kind == "foreign_key_records":
        return _foreign_key(card_id, signer, card_message(row, signer.epoch)), None
    if kind == "forged_certificates":
        return _forged(card_id, province, signer, card_message(row, signer.epoch))
    if kind == "expired_card_uses":
        return _expired(card_id, province, signer, card_message(row, signer.epoch))
    return None, None   # clones and revoked cards sign with the genuine card key


def _attacker_keys(signer: RecordSigner) -> DerivedKeys:
    return DerivedKeys(signer.alg, ATTACKER_SECRET, b"cardsim/attacker/v1")


def _foreign_key(card_id: str, signer: RecordSigner, msg: bytes) -> bytes:
    key, _pub = _attacker_keys(signer).get(card_id)
    return signer.alg.sign(key, msg)


def _forged(card_id: str, province: str, signer: RecordSigner, msg: bytes) -> tuple:
    """The card signs with the attacker's key, certified by the attacker's key."""
    alg = signer.alg
    key, pub = _attacker_keys(signer).get(card_id)
    forger = alg.from_seed(ATTACKER_SECRET)
    body = card_cert_body(card_id, province, alg.name, pub, signer.epoch - 86400,
                          signer.epoch + 10 * 365 * 86400, issuer_name(province))
    return alg.sign(key, msg), Certificate(card_id, "card", issuer_name(province), alg.name, body,
                                           alg.sign(forger, body))


def _expired(card_id: str, province: str, signer: RecordSigner, msg: bytes) -> tuple:
    """The genuine card key, with a genuine certificate that expired before the run."""
    alg = signer.alg
    key, pub = signer.card_key(card_id, province)
    nb = signer.epoch - 11 * 365 * 86400
    body = card_cert_body(card_id, province, alg.name, pub, nb, nb + 10 * 365 * 86400,
                          issuer_name(province))
    return alg.sign(key, msg), Certificate(card_id, "card", issuer_name(province), alg.name, body,
                                           alg.sign(signer.issuer_key(province), body))


#: The edits of tampered records, in turn: (column, new value as SQL, what it does).
_EDITS = (("amount_fen", "amount_fen + 100", "amount raised by 1 yuan"),
          ("outcome", "CASE outcome WHEN 'approved' THEN 'declined' ELSE 'approved' END", "outcome flipped"),
          ("card_id", "substr(card_id, 1, 11) || ((substr(card_id, 12) + 1) % 10)", "card number changed"),
          ("sim_time", "sim_time + 1.0", "time moved by 1 s"))


def _pick(rng: np.random.Generator, taken: set[int], k: int, lo: int, hi: int,
          gap: int = 2) -> list[int]:
    """Up to ``k`` seqs in [lo, hi) more than ``gap`` away from every seq taken (they are taken)."""
    out: list[int] = []
    for _ in range(50 * k + 50):
        if len(out) == k or hi <= lo:
            break
        s = int(rng.integers(lo, hi))
        if all(abs(s - x) > gap for x in taken):
            out.append(s)
            taken.add(s)
    return out


def _tamper(con, seqs: list[int]) -> list[tuple]:
    truth = []
    for i, s in enumerate(seqs):
        col, expr, what = _EDITS[i % len(_EDITS)]
        con.execute(f"UPDATE transactions SET {col} = {expr} WHERE seq = ?", (s,))
        truth.append(("tampered_records", s, _tx(con, s), what, s))
    return truth


def _reorder(con, seqs: list[int], taken: set[int]) -> list[tuple]:
    """Swap each record with the next one (every column but seq)."""
    cols = [r[1] for r in con.execute("PRAGMA table_info(transactions)")][1:]
    sets = ", ".join(f"{c} = ?" for c in cols)
    select = f"SELECT {', '.join(cols)} FROM transactions WHERE seq = ?"
    truth = []
    for s in seqs:
        tx = _tx(con, s)
        a = con.execute(select, (s,)).fetchone()
        b = con.execute(select, (s + 1,)).fetchone()
        taken.add(s + 1)
        con.execute("UPDATE transactions SET tx_id = 'swap' || seq WHERE seq IN (?, ?)", (s, s + 1))
        con.execute(f"UPDATE transactions SET {sets} WHERE seq = ?", (*b, s))
        con.execute(f"UPDATE transactions SET {sets} WHERE seq = ?", (*a, s + 1))
        truth.append(("reordered_records", s, tx, f"swapped with seq {s + 1}", s))
    return truth


def _delete(con, seqs: list[int]) -> list[tuple]:
    truth = []
    for s in seqs:
        tx = _tx(con, s)
        con.execute("DELETE FROM transactions WHERE seq = ?", (s,))
        truth.append(("deleted_records", s, tx, "deleted", s + 1))
    return truth


def _truncate(con, n: int, k: int) -> list[tuple]:
    """Cut the last ``k`` records and the checkpoints that cover them."""
    if not k:
        return []
    cut = max(1, n - k + 1)
    con.execute("DELETE FROM transactions WHERE seq >= ?", (cut,))
    con.execute("DELETE FROM checkpoints WHERE final = 1 OR count >= ?", (cut,))
    return [("truncated_records", cut, None, f"{k} records and the final checkpoint cut", 0)]


def tamper_log(path: str | Path, acfg: dict, rng: np.random.Generator, exclude: set[int]) -> list[tuple]:
    """Post-run attacks on the finished log file; returns their ground truth rows."""
    con = sqlite3.connect(path)
    n = con.execute("SELECT max(seq) FROM transactions").fetchone()[0] or 0
    taken = set(exclude)
    hi = n - acfg["truncated_records"] - 2

    def pick(kind: str) -> list[int]:
        return _pick(rng, taken, acfg[kind], 2, hi)

    with con:
        truth = _tamper(con, pick("tampered_records"))
        truth += _reorder(con, pick("reordered_records"), taken)
        truth += _delete(con, pick("deleted_records"))
        truth += _truncate(con, n, acfg["truncated_records"])
    con.close()
    return truth


def record_ground_truth(path: str | Path, acfg: dict, attacker: Attacker | None,
                        rng: np.random.Generator) -> None:
    """After a run that wrote ``path``: apply the post-run attacks of ``acfg`` (the scenario's
    ``[attacks]``) and write the ground truth of every attack, ``attacker``'s in-run ones first
    (a ``ground_truth`` table, empty too, whenever the scenario names an attack)."""
    truth = list(attacker.truth) if attacker is not None else []
    if any(acfg[k] for k in POST_RUN_ATTACKS):
        truth += tamper_log(path, acfg, rng, {t[1] for t in truth})
    if truth or any(acfg.values()):
        write_ground_truth(path, truth)


def _tx(con, seq: int) -> str | None:
    r = con.execute("SELECT tx_id FROM transactions WHERE seq = ?", (seq,)).fetchone()
    return r[0] if r else None


def write_ground_truth(path: str | Path, rows: list[tuple]) -> None:
    """The ``ground_truth`` table (its definition is the log format's, ``GROUND_TRUTH_SQL``;
    ``id`` numbers the rows)."""
    names = [n for n in GROUND_TRUTH_COLUMNS if n != "id"]
    con = sqlite3.connect(path)
    with con:
        if not con.execute("SELECT 1 FROM sqlite_schema WHERE name = 'ground_truth'").fetchone():
            con.execute(GROUND_TRUTH_SQL)
        con.executemany(f"INSERT INTO ground_truth ({', '.join(names)}) "
                        f"VALUES ({','.join('?' * len(names))})", rows)
    con.close()


def _ground_truth_rows(path: str | Path) -> list[tuple]:
    con = connect_readonly(path)
    try:
        return con.execute("SELECT attack, seq, expect_seq FROM ground_truth ORDER BY id").fetchall()
    except sqlite3.Error:
        raise CardsimError(f"{path}: no ground_truth table (the scenario injected no attacks)") from None
    finally:
        con.close()


def _expected_seqs(attack: str, expect: int) -> set[int]:
    """Where a verifier should report an attack: a reordering at the pair and the record chained
    after it; anything else at ``expect_seq``."""
    if attack == "reordered_records":
        return {expect, expect + 1, expect + 2}
    return {expect}


def _detected(attack: str, expected: set[int], found: dict[int, list[str]]) -> bool:
    if attack == "truncated_records":          # a log-level finding: the checkpoints
        return "checkpoints" in found.get(0, [])
    return any(s in found for s in expected)


def compare(path: str | Path, report) -> dict:
    """Detection per attack kind and false positives: the findings against the ground truth."""
    rows = _ground_truth_rows(path)
    found: dict[int, list[str]] = {}
    for f in report.findings:
        found.setdefault(f.seq, []).append(f.check)
    by_attack: dict[str, dict[str, int]] = {}
    explained: set[int] = set()
    for attack, seq, expect in rows:
        c = by_attack.setdefault(attack, {"injected": 0, "detected": 0})
        expected = _expected_seqs(attack, expect)
        c["injected"] += 1
        c["detected"] += int(_detected(attack, expected, found))
        explained |= expected
    post_run = any(attack in POST_RUN_ATTACKS for attack, _, _ in rows)   # log-level findings: theirs
    false_pos = sorted(s for s in found if s not in explained and not (s == 0 and post_run))
    return {"by_attack": by_attack, "false_positives": len(false_pos),
            "false_positive_seqs": false_pos[:100],
            "all_detected": all(c["injected"] == c["detected"] for c in by_attack.values())
            and not false_pos}

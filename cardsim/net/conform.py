"""``cardsim conform --target NAME=HOST:PORT``: a conformance suite for an issuer or a hub.

Each case sends crafted messages and checks the answer against docs/protocol.md. The requests
are made from a log's cards and clock (its scenario, loss reports and card counters) and the
keys directory's issuer keys (test keys: a card's key is derived from its issuer's, and each
request presents a certificate the issuer key signs), so the node under test must be configured
from the same log and keys, and must not have seen the suite's requests before (start it fresh).

Cases, in order: echo; a bad cryptogram (declined C3, and it must not consume the counter); a
valid request (00, signed); the same again (94, replayed counter); a lost card (41); an expired
card certificate (54); a malformed message (30, unsigned); an oversized frame (the connection
closed without an answer, and the node still serving).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from cardsim.audit.replay import read_log_scenario
from cardsim.errors import CardsimError
from cardsim.log.store import open_log
from cardsim.net import codes
from cardsim.net import messages as M
from cardsim.net.answers import NodeKeys, echo_problem
from cardsim.net.client import Connection, NodeError
from cardsim.net.framing import MAX_FRAME
from cardsim.net.replay import parse_targets
from cardsim.records.encoding import card_cert_body
from cardsim.records.record import ISSUER, ONLINE, Record, issuer_id_for
from cardsim.signing.keys import KeyRing, card_keys, issuer_name
from cardsim.signing.signer import transaction_messages

YEAR = 365 * 86400


@dataclass(frozen=True)
class Case:
    name: str
    expected: str
    got: str
    passed: bool | None        # None: skipped (the log has nothing to make the case from)

    @property
    def status(self) -> str:
        return "skipped" if self.passed is None else "pass" if self.passed else "FAIL"

    def as_dict(self) -> dict:
        return {"case": self.name, "expected": self.expected, "got": self.got,
                "status": self.status}


@dataclass
class ConformResult:
    target: str
    address: str
    cases: list

    @property
    def ok(self) -> bool:
        return all(c.passed is not False for c in self.cases)

    def as_dict(self) -> dict:
        return {"target": self.target, "address": self.address, "ok": self.ok,
                "passed": sum(c.passed is True for c in self.cases),
                "failed": sum(c.passed is False for c in self.cases),
                "skipped": sum(c.passed is None for c in self.cases),
                "cases": [c.as_dict() for c in self.cases]}


class Crafter:
    """Requests for the log's cards, signed with keys derived from the issuer keys."""

    def __init__(self, log: str | Path, keys_dir: str | Path, provinces: Sequence[str],
                 passphrase: bytes | None):
        conn = open_log(log)
        try:
            run, self.sc = read_log_scenario(conn, str(log))
            rows = conn.execute("SELECT * FROM transactions WHERE mode = ? AND authoriser = ? "
                                "AND outcome = 'approved' ORDER BY seq", (ONLINE, ISSUER)).fetchall()
            self.max_atc = dict(conn.execute("SELECT card_id, max(atc) FROM transactions GROUP BY card_id"))
            self.reports = dict(conn.execute("SELECT card_id, reported_at FROM blacklist"))
        finally:
            conn.close()
        self.ring = KeyRing.load(keys_dir, passphrase, names=[issuer_name(p) for p in provinces])
        self.nodekeys = NodeKeys(keys_dir, self.ring.algorithm.name)
        self.alg = self.ring.algorithm
        self.provinces = list(provinces)
        self.cards = {p: card_keys(self.ring, p, 1000) for p in provinces}
        self.template = next((Record._make(r[:len(Record._fields)]) for r in rows
                              if r[Record._fields.index("card_province")] in provinces
                              and type(r[Record._fields.index("atc")]) is int), None)
        if self.template is None:
            raise CardsimError(f"{log}: no online record approved by an issuer of "
                               f"{', '.join(provinces)}: nothing to make requests from")
        self.stan = 100

    def request(self, card_id: str, atc: int, at: float, expired: bool = False) -> M.AuthRequest:
        """A request of ``card_id`` with counter ``atc`` decided at ``at``, its certificate valid
        around the scenario's start (or ``expired`` a year before), its cryptogram genuine."""
        t = self.template
        province = "sichuan" if card_id.startswith("51") else "chongqing"
        key, pub = self.cards[province].get(card_id)
        epoch = self.sc.epoch
        nb, na = (epoch - 3 * YEAR, epoch - YEAR) if expired else (epoch - YEAR, epoch + 5 * YEAR)
        body = card_cert_body(card_id, province, self.alg.name, pub, nb, na, issuer_id_for(province))
        issuer_key = self.alg.signing_key(self.ring.private[issuer_name(province)])
        self.stan += 1
        req = M.AuthRequest(f"{self.stan:06d}", f"C{self.stan:09d}", card_id, atc, t.amount_fen,
                            t.terminal_id, 0x01020304 + self.stan, epoch, at, t.channel, t.service,
                            ONLINE, t.terminal_province, at, b"", "approved", None, ISSUER, None,
                            body, self.alg.sign(issuer_key, body))
        card_tx, _ = transaction_messages(req.row, epoch)
        return req.with_(cryptogram=self.alg.sign(key, card_tx))

    def fresh_atc(self, card_id: str) -> int:
        return (self.max_atc.get(card_id) or 0) + 1

    def lost_card(self) -> tuple[str, float] | None:
        outages = self._outages()
        for card_id, reported in sorted(self.reports.items()):
            if isinstance(card_id, str) and card_id[:2] in self._codes() and isinstance(reported, float):
                at = reported + 1.0
                for a, b in outages.get(card_id[:2], ()):
                    if a <= at < b:
                        at = b + 1.0
                return card_id, at
        return None

    def _codes(self) -> set:
        return {"51" if p == "sichuan" else "50" for p in self.provinces}

    def _outages(self) -> dict:
        cfg = self.sc.config["provinces"]
        return {("51" if p == "sichuan" else "50"): [(a * 3600.0, b * 3600.0) for a, b in
                                                      cfg[p]["issuer"]["outages"]]
                for p in self.provinces}


async def _send(host, port, message: bytes, timeout: float) -> dict:
    conn = await Connection.open(host, port, timeout)
    try:
        return await conn.exchange(message, timeout)
    finally:
        conn.close()


class Suite:
    def __init__(self, crafter: Crafter, host: str, port: int, timeout: float):
        self.c, self.host, self.port, self.timeout = crafter, host, port, timeout
        self.cases: list[Case] = []

    def record(self, name: str, expected: str, got: str, passed: bool) -> None:
        self.cases.append(Case(name, expected, got, passed))

    async def answer(self, req: M.AuthRequest) -> tuple[str, str | None]:
        """(response code, why the answer is unacceptable or None)."""
        try:
            doc = await _send(self.host, self.port, req.encode(), self.timeout)
            resp = M.parse_response(doc)
        except (NodeError, M.MessageError) as e:
            return "none", str(e)
        return resp.code, echo_problem(req, resp) or self.c.nodekeys.valid(req, resp)

    async def decision(self, name: str, req: M.AuthRequest, want: str) -> None:
        code, bad = await self.answer(req)
        self.record(name, f"{want}, signed", code if bad is None else f"{code} ({bad})",
                    code == want and bad is None)

    async def run(self) -> list[Case]:
        await self.echo()
        t = self.c.template
        atc = self.c.fresh_atc(t.card_id)
        valid = self.c.request(t.card_id, atc, t.decided_at)
        broken = valid.with_(cryptogram=bytes([valid.cryptogram[0] ^ 1]) + valid.cryptogram[1:])
        await self.decision("bad cryptogram", broken, codes.REASON_CODES["bad_card_signature"])
        await self.decision("valid request", valid, codes.APPROVED_CODE)
        await self.decision("replayed ATC", valid, codes.REASON_CODES["atc_replay"])
        lost = self.c.lost_card()
        if lost is None:
            self.record("lost card", "41, signed", "skipped: the log has no loss report", None)
        else:
            card_id, at = lost
            await self.decision("lost card", self.c.request(card_id, self.c.fresh_atc(card_id), at),
                                codes.REASON_CODES["card_lost"])
        expired = self.c.request(t.card_id, atc + 1, t.decided_at, expired=True)
        await self.decision("expired card certificate", expired, codes.REASON_CODES["card_expired"])
        await self.malformed(valid)
        await self.oversized()
        return self.cases

    async def echo(self) -> None:
        try:
            doc = await _send(self.host, self.port, M.network_request("000001"), self.timeout)
            got = f"{doc.get('t')} {doc.get('39')}"
        except (NodeError, M.MessageError) as e:
            got = str(e)
        self.record("echo (0800)", "0810 00", got, got == "0810 00")

    async def malformed(self, valid: M.AuthRequest) -> None:
        doc = M.decode(valid.encode())
        doc["55"] = doc["55"][:40]
        try:
            answer = await _send(self.host, self.port, M.encode(doc), self.timeout)
            got = f"{answer.get('t')} {answer.get('39')}" + (" signed" if "55" in answer else "")
        except (NodeError, M.MessageError) as e:
            got = str(e)
        self.record("malformed message", "0110 30", got, got == "0110 30")

    async def oversized(self) -> None:
        got = "answered"
        try:
            conn = await Connection.open(self.host, self.port, self.timeout)
            try:
                await conn.send_raw(struct.pack(">H", MAX_FRAME + 1) + b"0100")
                data = await asyncio.wait_for(conn.reader.read(1), self.timeout)
                got = "closed" if data == b"" else "answered"
            finally:
                conn.close()
        except asyncio.TimeoutError:
            got = "left open"
        except (NodeError, OSError):
            got = "closed"
        before = len(self.cases)
        await self.echo()
        still = self.cases.pop(before).passed
        self.record("oversized frame", "closed, node still serving",
                    f"{got}, {'still serving' if still else 'not serving'}", got == "closed" and still)


def conform(target: str, log: str | Path, keys_dir: str | Path = "keys", timeout: float = 2.0,
            passphrase: bytes | None = None) -> ConformResult:
    table = parse_targets([target])
    (name, (host, port)), = table.items()
    provinces = ["sichuan", "chongqing"] if name == "hub" else [name.split("-", 1)[1]]
    crafter = Crafter(log, keys_dir, provinces, passphrase)
    try:
        asyncio.run(_send(host, port, M.network_request("000000"), timeout))
    except (NodeError, M.MessageError) as e:
        raise CardsimError(f"--target {target}: cannot be reached ({e})") from None
    return ConformResult(name, f"{host}:{port}", asyncio.run(Suite(crafter, host, port, timeout).run()))

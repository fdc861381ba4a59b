"""The hub as a network node: it routes each 0100 by the card's province (the first two digits of
its number) to that province's issuer and relays the answer; when the issuer answers 91 (in an
outage), does not answer within ``issuer_timeout_s`` or cannot be reached, the hub applies that
issuer's stand-in policy (``Issuer.stand_in``, the simulation's rule, with the blacklist the
scenario's push timing gives) after checking the card as an issuer would, and signs the answer
with its own key (authoriser ``standin``), as it does in the simulation, and reports the
decision to the issuer afterwards in an 0120 advice. Uploaded offline records
(0320) go to the card's issuer's back office the same way, without stand-in."""

from __future__ import annotations

import asyncio

from cardsim.model.card import parse_card_id
from cardsim.net import codes
from cardsim.net import messages as M
from cardsim.net.client import Connection, NodeError
from cardsim.net.issuer import RESPONSE_OF, signed_answer
from cardsim.net.node import NodeState
from cardsim.records.record import STANDIN
from cardsim.signing.keys import HUB

#: Idle connections kept per issuer route.
POOL = 64
#: Advices (0120) in flight at most.
MAX_ADVICES = 256


class Route:
    """Connections to one issuer, reused one request at a time."""

    def __init__(self, host: str, port: int, timeout_s: float):
        self.host, self.port, self.timeout = host, port, timeout_s
        self.idle: list[Connection] = []

    async def exchange(self, message: bytes) -> dict:
        """Send on an idle connection; one the issuer closed meanwhile (its idle time-out) is
        replaced by a new one, once: only a time-out or a failed new connection is an error."""
        while self.idle:
            conn = self.idle.pop()
            try:
                return self._keep(conn, await conn.exchange(message, self.timeout))
            except NodeError as e:
                conn.close()
                if str(e) == "time-out":
                    raise
            except M.MessageError:
                conn.close()
                raise
        conn = await Connection.open(self.host, self.port, self.timeout)
        try:
            doc = await conn.exchange(message, self.timeout)
        except (NodeError, M.MessageError):
            conn.close()
            raise
        return self._keep(conn, doc)

    def _keep(self, conn: Connection, doc: dict) -> dict:
        if len(self.idle) < POOL:
            self.idle.append(conn)
        else:
            conn.close()
        return doc


class HubService:
    def __init__(self, state: NodeState, routes: dict[str, tuple[str, int]],
                 issuer_timeout_s: float = 1.0, log=None):
        self.state, self.log = state, log
        self.routes = {p: Route(h, port, issuer_timeout_s) for p, (h, port) in routes.items()}
        self.stand_ins = 0
        self.advices: set[asyncio.Future] = set()

    async def handle(self, doc: dict) -> bytes | None:
        mti = doc.get("t")
        try:
            if mti == M.AUTH_REQUEST:
                return await self.authorise(doc, M.parse_request(doc))
            if mti == M.UPLOAD:
                return await self.clearing(doc, M.parse_request(doc))
            if mti in RESPONSE_OF:
                return M.reply(doc, RESPONSE_OF[mti], codes.APPROVED_CODE)
        except M.MessageError as e:
            if self.log:
                self.log(f"cardsim hub: malformed {mti}: {e}")
            return M.reply(doc, RESPONSE_OF[mti], codes.FORMAT_ERROR)
        if self.log:
            self.log(f"cardsim hub: unsupported message type {str(mti)[:8]!r}")
        return None

    async def authorise(self, doc: dict, req: M.AuthRequest) -> bytes:
        province = parse_card_id(req.card_id)[0]
        route = self.routes.get(province)
        answer = None
        if route is not None:
            try:
                answer = await route.exchange(M.encode(doc))
            except (NodeError, M.MessageError, asyncio.TimeoutError) as e:
                if self.log:
                    self.log(f"cardsim hub: issuer-{province} unavailable ({e}): stand-in")
        if answer is None or answer.get("39") == codes.ISSUER_INOPERATIVE:
            out = self.stand_in(req, province)
            if route is not None:
                self.advise(route, req, M.decode(out)["39"])
            return out
        return M.encode(answer)

    def advise(self, route: Route, req: M.AuthRequest, code: str) -> None:
        """Report a stand-in decision to the issuer afterwards (0120, once, best effort; at most
        :data:`MAX_ADVICES` in flight, the rest dropped: the log of the run holds them all)."""
        if len(self.advices) >= MAX_ADVICES:
            return
        task = asyncio.ensure_future(self._advise(route, req.encode(M.ADVICE, {"39": code})))
        self.advices.add(task)
        task.add_done_callback(self.advices.discard)

    async def _advise(self, route: Route, message: bytes) -> None:
        try:
            await route.exchange(message)
        except (NodeError, M.MessageError, asyncio.TimeoutError):
            pass

    async def clearing(self, doc: dict, req: M.AuthRequest) -> bytes:
        """An uploaded record, to its card's issuer's back office (no stand-in: clearing is not
        real time; 91 tells the sender to upload it again later)."""
        route = self.routes.get(parse_card_id(req.card_id)[0])
        if route is not None:
            try:
                return M.encode(await route.exchange(M.encode(doc)))
            except (NodeError, M.MessageError, asyncio.TimeoutError):
                pass
        return M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen,
                              codes.ISSUER_INOPERATIVE).encode(M.UPLOAD_RESPONSE)

    def stand_in(self, req: M.AuthRequest, province: str) -> bytes:
        self.stand_ins += 1
        nodes = self.state.nodes
        reason = self.state.cards.status(req)
        if reason is None:
            reason = nodes.issuers[province].stand_in(nodes.card(req.card_id), req.amount_fen,
                                                      req.channel, req.decided_at, nodes.blacklist,
                                                      req.terminal_province)
        return signed_answer(self.state, req, reason, STANDIN, HUB)

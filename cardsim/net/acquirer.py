"""A merchant's acquirer as a network node: its terminals' online requests (0100) and the
records of their batch uploads (0320, one approved offline record each) forwarded to the
upstream node (the hub, which routes each by the card's province) and the answers relayed. The
card's issuer decides the requests and its back office clears the uploads
(:mod:`cardsim.net.issuer`); the acquirer refuses, with 03, a record of a terminal that is not
its merchant's, and answers 91 when the upstream cannot be reached.
"""

from __future__ import annotations

import asyncio

from cardsim.audit.verify.records import terminal_operator
from cardsim.net import codes
from cardsim.net import messages as M
from cardsim.net.client import NodeError
from cardsim.net.hub import Route
from cardsim.net.issuer import RESPONSE_OF
from cardsim.net.node import NodeState

INVALID_MERCHANT = "03"
RESPONSES = {**RESPONSE_OF, M.UPLOAD: M.UPLOAD_RESPONSE}


class AcquirerService:
    def __init__(self, state: NodeState, merchant_id: str, upstream: tuple[str, int] | None,
                 timeout_s: float = 2.0, log=None):
        self.state, self.merchant_id, self.log = state, merchant_id, log
        self.upstream = None if upstream is None else Route(*upstream, timeout_s)

    async def handle(self, doc: dict) -> bytes | None:
        mti = doc.get("t")
        try:
            if mti == M.AUTH_REQUEST:
                return await self.forward(doc, M.parse_request(doc))
            if mti == M.UPLOAD:
                return await self.forward(doc, M.parse_request(doc), M.UPLOAD_RESPONSE)
            if mti in RESPONSES:
                return M.reply(doc, RESPONSES[mti], codes.APPROVED_CODE)
        except M.MessageError as e:
            if self.log:
                self.log(f"cardsim acquirer-{self.merchant_id}: malformed {mti}: {e}")
            return M.reply(doc, RESPONSES[mti], codes.FORMAT_ERROR)
        if self.log:
            self.log(f"cardsim acquirer-{self.merchant_id}: unsupported message type {str(mti)[:8]!r}")
        return None

    def _mine(self, req: M.AuthRequest) -> bool:
        op = terminal_operator(req.terminal_id)
        return op is not None and op[1] == self.merchant_id

    def _answer(self, mti: str, req: M.AuthRequest, code: str) -> bytes:
        return M.encode({"t": mti, "2": req.card_id, "4": f"{req.amount_fen:012d}",
                         "11": req.stan, "37": req.tx_id[:12].ljust(12), "39": code})

    async def forward(self, doc: dict, req: M.AuthRequest, mti: str = M.AUTH_RESPONSE) -> bytes:
        if not self._mine(req):
            return self._answer(mti, req, INVALID_MERCHANT)
        if self.upstream is None:
            return self._answer(mti, req, codes.ISSUER_INOPERATIVE)
        try:
            return M.encode(await self.upstream.exchange(M.encode(doc)))
        except (NodeError, M.MessageError, asyncio.TimeoutError) as e:
            if self.log:
                self.log(f"cardsim acquirer-{self.merchant_id}: upstream unavailable ({e})")
            return self._answer(M.AUTH_RESPONSE, req, codes.ISSUER_INOPERATIVE)

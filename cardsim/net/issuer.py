"""The issuer of one province as a network node: 0100 authorisations decided by the node layer
(``Nodes.authorise``: ``Issuer.respond``, the simulation's rule) after the card's certificate
and cryptogram are checked (:class:`cardsim.net.node.PresentedCards`), answered with the
issuer's signature over its auth_response; 0320 uploaded offline records cleared by its back
office (the card checked, then ``Issuer.clear_offline``: a counter not above the highest cleared
for the card is a clone or a replayed record, 94), answered 0330 unsigned; 0800 sign-on and echo;
0120 advices and 0400 reversals acknowledged (no rule of the model reads them).

An issuer in one of its scenario's outages at the request's decision moment does not decide: it
answers 91 (issuer inoperative) at once, unsigned, and the node in front of it (the hub, or a
replaying acquirer) applies the stand-in policy, as in the simulation.
"""

from __future__ import annotations

from cardsim.model.card import parse_card_id
from cardsim.net import codes
from cardsim.net import messages as M
from cardsim.net.node import NodeState
from cardsim.records.record import APPROVED, DECLINED, ISSUER, OFFLINE, STANDIN, issuer_id_for

#: What each request type is answered with when it cannot be read.
RESPONSE_OF = {M.AUTH_REQUEST: M.AUTH_RESPONSE, M.ADVICE: M.ADVICE_RESPONSE,
               M.REVERSAL: M.REVERSAL_RESPONSE, M.NETWORK: M.NETWORK_RESPONSE,
               M.UPLOAD: M.UPLOAD_RESPONSE}
NO_SUCH_ISSUER = "15"


def decided(req: M.AuthRequest, reason: str | None, authoriser: str):
    """The request's record with a decision in it (what the answer's signature covers)."""
    return req.row._replace(outcome=APPROVED if reason is None else DECLINED, reason=reason,
                              authoriser=authoriser)


def signed_answer(state: NodeState, req: M.AuthRequest, reason: str | None, authoriser: str,
                  signer: str) -> bytes:
    rec = decided(req, reason, authoriser)
    return M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen, codes.code_of(reason),
                          signer, authoriser, req.decided_at,
                          state.sign_answer(rec, signer)).encode()


class IssuerService:
    """The ``handle`` of an issuer node (:class:`cardsim.net.server.NodeServer`)."""

    def __init__(self, state: NodeState, province: str, log=None):
        self.state, self.province, self.log = state, province, log
        self.issuer_id = issuer_id_for(province)

    async def handle(self, doc: dict) -> bytes | None:
        mti = doc.get("t")
        try:
            if mti == M.AUTH_REQUEST:
                return self.authorise(M.parse_request(doc))
            if mti == M.UPLOAD:
                return self.clear(M.parse_request(doc))
            if mti in (M.NETWORK, M.ADVICE, M.REVERSAL):
                return M.reply(doc, RESPONSE_OF[mti], codes.APPROVED_CODE)
        except M.MessageError as e:
            if self.log:
                self.log(f"cardsim issuer-{self.province}: malformed {mti}: {e}")
            return M.reply(doc, RESPONSE_OF[mti], codes.FORMAT_ERROR)
        if self.log:
            self.log(f"cardsim issuer-{self.province}: unsupported message type {str(mti)[:8]!r}")
        return None

    def authorise(self, req: M.AuthRequest) -> bytes:
        if parse_card_id(req.card_id)[0] != self.province:
            return M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen,
                                  NO_SUCH_ISSUER).encode()
        reason = self.state.cards.status(req)
        authoriser = ISSUER
        if reason is None:
            reason, authoriser = self.state.nodes.authorise(self.state.nodes.card(req.card_id),
                                                            req.row, req.amount_fen)
        if authoriser == STANDIN:
            return M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen,
                                  codes.ISSUER_INOPERATIVE).encode()
        return signed_answer(self.state, req, reason, ISSUER, self.issuer_id)

    def clear(self, req: M.AuthRequest) -> bytes:
        """The back office clears one uploaded offline record (approved by its terminal)."""
        if parse_card_id(req.card_id)[0] != self.province:
            code = NO_SUCH_ISSUER
        elif req.mode != OFFLINE or req.outcome != APPROVED:
            code = codes.FORMAT_ERROR
        else:
            reason = self.state.cards.status(req)
            if reason is None:
                card = self.state.nodes.card(req.card_id)
                reason = self.state.nodes.issuers[self.province].clear_offline(card, req.atc)
            code = codes.code_of(reason)
        return M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen, code).encode(
            M.UPLOAD_RESPONSE)

"""Judging a node's answer to a replayed request: the response code replay expects from the
recorded decision, and the answer's signature checked against the signing node's certificate
(from the keys directory, checked to the trusted root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from cardsim.audit.verify.primitives import fast_verifier, subject_key
from cardsim.errors import CardsimError
from cardsim.net import codes
from cardsim.net.messages import AuthRequest, AuthResponse
from cardsim.records.encoding import CARD_REQUEST, ENCODERS, auth_response_message, sha256
from cardsim.records.record import ISSUER, STANDIN, issuer_id_for
from cardsim.signing.crypto import ALGORITHMS, Algorithm
from cardsim.signing.keys import HUB, ROOT, all_names, load_certificate, load_trust_anchor, role_problem
from cardsim.signing.signer import card_request


@dataclass(frozen=True)
class Expected:
    """What a target should answer to a record: a response code, and for a decision the
    authoriser and signer."""

    code: str
    outcome: str | None
    reason: str | None
    authoriser: str | None


def expected(outcome: str, reason: str | None, authoriser: str, via_hub: bool) -> Expected:
    """The answer a node that decides as the log did gives: an issuer in an outage (the record's
    authoriser ``standin``) answers 91 to a direct request; the hub answers with the stand-in."""
    if authoriser == STANDIN and not via_hub:
        return Expected(codes.ISSUER_INOPERATIVE, None, None, None)
    return Expected(codes.code_of(reason), outcome, reason, authoriser)


class NodeKeys:
    """The public keys of the nodes that sign answers (issuers, hub), each certificate checked
    as issued by the trusted root for its role."""

    def __init__(self, keys_dir: str | Path, algorithm: str):
        root = load_trust_anchor(keys_dir)
        self.alg: Algorithm = ALGORITHMS[algorithm]
        self.keys = {}
        for name in all_names():
            if name == ROOT or not (name == HUB or name.startswith("issuer-")):
                continue
            path = Path(keys_dir) / f"{name}.pem"
            cert = load_certificate(path)
            try:
                cert.verify_directly_issued_by(root)
            except (ValueError, TypeError, InvalidSignature):
                raise CardsimError(f"{path}: not issued by the trusted root") from None
            if role_problem(cert, name) is not None:
                raise CardsimError(f"{path}: {role_problem(cert, name)}")
            self.keys[name] = subject_key(self.alg, self.alg.public_bytes(cert.public_key()))
        # libsodium's Ed25519 verification (verify's primitive), twice OpenSSL's speed here
        self.verify = fast_verifier(self.alg)

    def valid(self, req: AuthRequest, resp: AuthResponse) -> str | None:
        """Why the answer's signature does not hold (None: it holds)."""
        decision = codes.decision_of(resp.code)
        if decision is None:
            return None if resp.signature is None else "signature on an answer without decision"
        if resp.signature is None:
            return "decision without a signature"
        want_signer = HUB if resp.authoriser == STANDIN else issuer_id_for(req.row.card_province)
        if resp.authoriser not in (ISSUER, STANDIN) or resp.signer != want_signer:
            return f"signed by {resp.signer!r} as {resp.authoriser!r}, expected {want_signer}"
        if resp.decided_at != req.decided_at:
            return "decision moment differs from the request's"
        request_hash = sha256(ENCODERS[CARD_REQUEST](card_request(req.row, req.epoch)))
        msg = auth_response_message(resp.signer, decision[0], decision[1], resp.authoriser,
                                    resp.decided_at, request_hash)
        if not self.verify(self.keys[resp.signer], resp.signature, msg):
            return "signature does not verify"
        return None


def echo_problem(req: AuthRequest, resp: AuthResponse) -> str | None:
    """Why the answer is not the answer to ``req`` (None: its echoed fields match)."""
    if (resp.stan, resp.card_id, resp.tx_id[:12], resp.amount_fen) != (
            req.stan, req.card_id, req.tx_id[:12].rstrip(), req.amount_fen):
        return "fields 2, 4, 11 or 37 do not echo the request"
    return None

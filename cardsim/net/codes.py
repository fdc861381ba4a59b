"""Field 39: the response code of each decision, one per decline reason (docs/protocol.md).

ISO 8583:1987 codes where one means the same; ``C1``-``C4`` are cardsim's own (the 1987 table
has no code for a failed card cryptogram or counter). ``91`` is not a decision: the issuer is in
an outage and the node in front of it applies its stand-in policy; ``30`` answers a message the
node cannot read.
"""

from __future__ import annotations

from cardsim.records.record import APPROVED, DECLINED

APPROVED_CODE = "00"
FORMAT_ERROR = "30"
ISSUER_INOPERATIVE = "91"
SYSTEM_MALFUNCTION = "96"

#: decline reason -> response code
REASON_CODES: dict[str, str] = {
    "card_lost": "41",              # lost card
    "atc_replay": "94",             # duplicate transmission: the counter was seen before
    "atc_jump": "C1",               # the counter jumped further than the issuer allows
    "issuer_unavailable": "C2",     # stand-in: the policy declines while the issuer is down
    "standin_limit": "61",          # stand-in: exceeds the amount limit
    "blacklisted": "62",            # restricted card: on the blacklist the stand-in node holds
    "bad_card_signature": "C3",     # the card's cryptogram (9F26) does not verify
    "card_expired": "54",           # expired card: outside its certificate's validity
    "bad_card_certificate": "C4",   # the card's certificate is missing, malformed or forged
    "malformed_record": "30",       # a field the node reads is missing or malformed
}
CODE_REASONS: dict[str, str] = {c: r for r, c in REASON_CODES.items() if c != FORMAT_ERROR}
#: Codes that answer without a decision (no signature).
NO_DECISION = {FORMAT_ERROR, ISSUER_INOPERATIVE, SYSTEM_MALFUNCTION}


def code_of(reason: str | None) -> str:
    """The response code of a decision: approved (None) or a decline reason."""
    return APPROVED_CODE if reason is None else REASON_CODES.get(reason, SYSTEM_MALFUNCTION)


def decision_of(code: str) -> tuple[str, str | None] | None:
    """(outcome, reason) a response code says, or None when it is not a decision."""
    if code == APPROVED_CODE:
        return APPROVED, None
    reason = CODE_REASONS.get(code)
    return None if reason is None else (DECLINED, reason)

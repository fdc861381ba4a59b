#!/usr/bin/env python3
"""Writes tests/vectors/net_vectors.json: golden messages of docs/protocol.md (hex), made with
test keys from fixed seeds (they sign nothing but these vectors). tests/test_net_vectors.py
rebuilds every message and checks it byte for byte, and decodes each one.

Run from the repository root: python tests/vectors/make_net_vectors.py
"""

import datetime as dt
import json
from pathlib import Path

from cardsim.net import codes, tlv
from cardsim.net import messages as M
from cardsim.records import encoding as E
from cardsim.signing.crypto import ED25519
from cardsim.signing.signer import auth_message, card_request, transaction_messages

SEEDS = {"card": bytes(range(32)), "issuer": bytes(range(32, 64))}
EPOCH = 1629129600                    # 2021-08-17 00:00 +08:00
WHEN = dt.datetime(2021, 8, 17, 8, 7, 20, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def keys():
    card, issuer = (ED25519.from_seed(SEEDS[w]) for w in ("card", "issuer"))
    return card, issuer


def request(outcome="approved", reason=None):
    """An online scenic ticket (the request of tests/vectors/vectors.json), its card
    certificate signed by the test issuer key, and the card's TC over the issuer's answer."""
    card, issuer = keys()
    body = E.card_cert_body("510000000042", "sichuan", "ed25519", card.public, 1577836800,
                            2208988800, "issuer-sichuan")
    req = M.AuthRequest(stan="000042", tx_id="T0000000007", card_id="510000000042", atc=1208,
                        amount_fen=12000, terminal_id="SC-SCN-001-02", un=3735928559,
                        epoch=EPOCH, sim_time=29240.5, channel="tourism", service="scenic_gate",
                        mode="online", terminal_province="sichuan", decided_at=29240.25,
                        cryptogram=b"", outcome=outcome, reason=reason, authoriser="issuer",
                        balance_fen=None, cert_body=body, cert_sig=ED25519.sign(issuer, body))
    card_tx, _auth = transaction_messages(req.row, EPOCH)
    return req.with_(cryptogram=ED25519.sign(card, card_tx))


def response(req):
    _card, issuer = keys()
    rec = req.row
    request_hash = E.sha256(E.ENCODERS[E.CARD_REQUEST](card_request(rec, EPOCH)))
    sig = ED25519.sign(issuer, auth_message(rec, request_hash))
    return M.AuthResponse(req.stan, req.card_id, req.tx_id, req.amount_fen, codes.APPROVED_CODE,
                          "issuer-sichuan", "issuer", req.decided_at, sig)


def build() -> dict:
    req = request()
    card, issuer = keys()
    return {
        "note": "test keys from fixed seeds; see docs/protocol.md",
        "seeds_hex": {k: v.hex() for k, v in SEEDS.items()},
        "card_public_key_hex": card.public.hex(), "issuer_public_key_hex": issuer.public.hex(),
        "tlv": {"items": [["9F36", "04B8"], ["DF03", "53432D53434E2D3030312D3032"]],
                "hex": tlv.encode([(0x9F36, bytes.fromhex("04B8")),
                                   (0xDF03, b"SC-SCN-001-02")]).hex().upper()},
        "auth_request": {"field55_hex": req.field55().hex().upper(), "hex": req.encode().hex().upper()},
        "auth_response": {"hex": response(req).encode().hex().upper()},
        "issuer_inoperative": {"hex": M.AuthResponse(req.stan, req.card_id, req.tx_id,
                                                     req.amount_fen, "91").encode().hex().upper()},
        "echo": {"hex": M.network_request("000001", M.ECHO, WHEN).hex().upper(),
                 "answer_hex": M.reply(M.decode(M.network_request("000001", M.ECHO, WHEN)),
                                       M.NETWORK_RESPONSE, "00").hex().upper()},
    }


if __name__ == "__main__":
    out = Path(__file__).parent / "net_vectors.json"
    out.write_text(json.dumps(build(), indent=2) + "\n")
    print(f"wrote {out}")

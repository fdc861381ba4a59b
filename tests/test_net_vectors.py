"""The golden messages of docs/protocol.md (tests/vectors/net_vectors.json) match the code byte
for byte, decode to what they say, and their signatures verify."""

import importlib.util
import json
from pathlib import Path

from cardsim.net import codes, tlv
from cardsim.net import messages as M
from cardsim.records import encoding as E
from cardsim.signing.crypto import ED25519
from cardsim.signing.signer import card_message, card_request

HERE = Path(__file__).parent / "vectors"
V = json.loads((HERE / "net_vectors.json").read_text())
_spec = importlib.util.spec_from_file_location("make_net_vectors", HERE / "make_net_vectors.py")
MAKE = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(MAKE)


def test_the_vectors_file_is_what_the_code_makes():
    assert MAKE.build() == V


def test_tlv_vector():
    items = {int(t, 16): bytes.fromhex(v) for t, v in V["tlv"]["items"]}
    assert tlv.decode(bytes.fromhex(V["tlv"]["hex"])) == items


def test_the_request_vector_decodes_and_its_cryptogram_and_certificate_verify():
    doc = M.decode(bytes.fromhex(V["auth_request"]["hex"]))
    assert (doc["t"], doc["2"], doc["4"], doc["11"], doc["49"]) == (
        "0100", "510000000042", "000000012000", "000042", "156")
    req = M.parse_request(doc)
    assert req.field55().hex().upper() == V["auth_request"]["field55_hex"]
    assert (req.atc, req.un, req.sim_time, req.decided_at, req.terminal_id) == (
        1208, 3735928559, 29240.5, 29240.25, "SC-SCN-001-02")
    card = ED25519.load_public(bytes.fromhex(V["card_public_key_hex"]))
    issuer = ED25519.load_public(bytes.fromhex(V["issuer_public_key_hex"]))
    assert ED25519.verify(issuer, req.cert_sig, req.cert_body)
    assert ED25519.verify(card, req.cryptogram, card_message(req.row, req.epoch))
    tags = tlv.decode(req.field55())
    assert tags[M.T_DATE].hex() == "210817" and tags[M.T_TIME].hex() == "080720"   # Beijing time


def test_the_response_vector_is_signed_over_the_request():
    req = M.parse_request(M.decode(bytes.fromhex(V["auth_request"]["hex"])))
    resp = M.parse_response(M.decode(bytes.fromhex(V["auth_response"]["hex"])))
    assert (resp.code, resp.signer, resp.authoriser, resp.decided_at) == (
        "00", "issuer-sichuan", "issuer", 29240.25)
    request_hash = E.sha256(E.ENCODERS[E.CARD_REQUEST](card_request(req.row, req.epoch)))
    msg = E.auth_response_message("issuer-sichuan", "approved", None, "issuer", 29240.25,
                                  request_hash)
    issuer = ED25519.load_public(bytes.fromhex(V["issuer_public_key_hex"]))
    assert ED25519.verify(issuer, resp.signature, msg)
    assert not ED25519.verify(issuer, resp.signature, msg.replace(b"approved", b"declined"))


def test_the_no_decision_and_echo_vectors():
    resp = M.parse_response(M.decode(bytes.fromhex(V["issuer_inoperative"]["hex"])))
    assert resp.code == codes.ISSUER_INOPERATIVE and resp.signature is None
    echo = M.decode(bytes.fromhex(V["echo"]["hex"]))
    assert (echo["t"], echo["70"], echo["7"]) == ("0800", "301", "0817080720")
    answer = M.decode(bytes.fromhex(V["echo"]["answer_hex"]))
    assert (answer["t"], answer["39"], answer["11"]) == ("0810", "00", "000001")

"""ISO 8583 messages, response codes and framing (cardsim.net.messages, codes, framing)."""

import asyncio
import json
from pathlib import Path

import pytest

from cardsim.net import codes, framing, tlv
from cardsim.net import messages as M
from cardsim.net.client import parse_address
from cardsim.records.record import REASONS

V = json.loads((Path(__file__).parent / "vectors" / "net_vectors.json").read_text())


def request_doc() -> dict:
    return M.decode(bytes.fromhex(V["auth_request"]["hex"]))


def test_a_request_survives_encode_and_decode():
    req = M.parse_request(request_doc())
    assert M.parse_request(M.decode(req.encode())) == req


def test_every_decline_reason_a_node_gives_has_its_own_code():
    decided = set(REASONS) - {"issuer_timeout", "insufficient_balance"}   # terminals only
    assert decided <= set(codes.REASON_CODES)
    decision_codes = [c for r, c in codes.REASON_CODES.items() if r != "malformed_record"]
    assert len(set(decision_codes)) == len(decision_codes)
    assert not set(decision_codes) & codes.NO_DECISION and "00" not in decision_codes
    for reason, code in codes.REASON_CODES.items():
        if reason != "malformed_record":
            assert codes.decision_of(code) == ("declined", reason)
    assert codes.decision_of("00") == ("approved", None) and codes.decision_of("91") is None


def _with_tags(doc, **changes):
    tags = tlv.decode(M.field55(doc))
    for tag, value in changes.items():
        tag = int(tag[1:], 16)
        if value is None:
            tags.pop(tag)
        else:
            tags[tag] = value
    return {**doc, "55": tlv.encode(tags.items()).hex().upper()}


@pytest.mark.parametrize("change, why", [
    ({"2": "99000000001"}, "field 2"),
    ({"4": "00000001200X"}, "field 4"),
    ({"11": "12"}, "field 11"),
    ({"4": "000000012001"}, "disagrees with field 4"),
    ({"55": "ZZ"}, "not binary"),
    ({"55": "9F2601"}, "field 55"),
])
def test_malformed_requests_are_refused(change, why):
    with pytest.raises(M.MessageError, match=why):
        M.parse_request({**request_doc(), **change})


@pytest.mark.parametrize("tags, why", [
    ({"x9F36": None}, "9F36"),                   # no ATC
    ({"x9F36": b"\x01"}, "9F36"),                # ATC of the wrong size
    ({"xDF04": b"\xff\xfe"}, "not UTF-8"),
    ({"xDF02": b"\x00" * 4}, "DF02"),
])
def test_malformed_field_55_is_refused(tags, why):
    with pytest.raises(M.MessageError, match=why):
        M.parse_request(_with_tags(request_doc(), **tags))


def test_garbage_is_not_a_message():
    for data in (b"", b"\xff" * 30, b"0100", b"0800" + b"\x00" * 3):
        with pytest.raises(M.MessageError):
            M.decode(data)


def test_a_reply_echoes_what_matches_it_to_its_request():
    doc = M.decode(M.reply(request_doc(), M.AUTH_RESPONSE, codes.FORMAT_ERROR))
    assert {k: doc[k] for k in ("t", "39", "2", "11")} == {
        "t": "0110", "39": "30", "2": "510000000042", "11": "000042"}


def _read(data: bytes, cap=framing.MAX_FRAME):
    async def go():
        r = asyncio.StreamReader()
        r.feed_data(data)
        r.feed_eof()
        return await framing.read_frame(r, 1.0, 1.0, cap)
    return asyncio.run(go())


def test_framing():
    assert framing.frame(b"abc") == b"\x00\x03abc"
    assert _read(b"\x00\x03abc") == b"abc"
    assert _read(b"") is None
    for data, why in ((b"\x00", "inside the length prefix"), (b"\x00\x05ab", "after 2 of 5"),
                      (b"\x00\x00", "outside"), (b"\x10\x01", "outside")):
        with pytest.raises(framing.FrameError, match=why):
            _read(data)
    with pytest.raises(framing.FrameError):
        framing.frame(b"")


def test_an_idle_peer_times_out():
    async def go():
        r = asyncio.StreamReader()
        await framing.read_frame(r, 0.05, 0.05)
    with pytest.raises(framing.FrameError, match="idle"):
        asyncio.run(go())


@pytest.mark.parametrize("text, want", [("127.0.0.1:80", ("127.0.0.1", 80)),
                                        ("[::1]:9", ("::1", 9)), ("localhost:0", ("localhost", 0))])
def test_addresses(text, want):
    assert parse_address(text, "x") == want


@pytest.mark.parametrize("text", ["127.0.0.1", ":80", "h:99999", "h:x"])
def test_bad_addresses(text):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(text, "x")

"""BER-TLV for field 55 (cardsim.net.tlv): exact round trips, and refusal of anything malformed."""

import pytest
from hypothesis import given, strategies as st

from cardsim.net import tlv

TAGS = st.one_of(st.integers(0x80, 0x9E).filter(lambda t: t & 0x1F != 0x1F and not t & 0x20),
                 st.sampled_from([0x9F26, 0x9F36, 0x5F2A, 0xDF01, 0xDF7F, 0xDF8101]))


@given(st.dictionaries(TAGS, st.binary(max_size=600), max_size=8))
def test_round_trip(items):
    data = tlv.encode(items.items())
    assert tlv.decode(data) == items


def test_lengths_take_one_two_or_three_bytes():
    assert tlv.encode([(0x9A, b"\x01" * 5)]).hex() == "9a05" + "01" * 5
    assert tlv.encode([(0x9A, b"\x01" * 200)])[:3].hex() == "9a81c8"
    assert tlv.encode([(0x9A, b"\x01" * 300)])[:4].hex() == "9a82012c"


@pytest.mark.parametrize("data, why", [
    ("9f", "malformed tag"),                 # tag cut short
    ("9f2605aabb", "truncated"),             # value cut short
    ("9a8105" + "00" * 5, "non-minimal"),    # 5 in the long form
    ("9a83000001" + "00", "unsupported"),    # three length bytes
    ("9a0100" + "9a0100", "repeated"),
    ("7003" + "9a0100", "constructed"),      # a template where a primitive is expected
    ("9a", "truncated length"),
])
def test_malformed_input_is_refused(data, why):
    with pytest.raises(tlv.TLVError, match=why):
        tlv.decode(bytes.fromhex(data))


@pytest.mark.parametrize("tag", [0x1F, 0x9F80, 0xDF818181, 0x9F8001 + 0x80])
def test_bad_tags_cannot_be_encoded(tag):
    with pytest.raises(tlv.TLVError):
        tlv.encode([(tag, b"x")])


def test_values_must_be_bytes_and_not_too_long():
    with pytest.raises(tlv.TLVError, match="bytes"):
        tlv.encode([(0x9A, "text")])
    with pytest.raises(tlv.TLVError, match="too long"):
        tlv.encode([(0x9A, b"\x00" * 70_000)])

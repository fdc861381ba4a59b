import pytest
from hypothesis import given, strategies as st

from cardsim.records import encoding as E

values = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
                   st.text(max_size=40), st.binary(max_size=80))


@given(st.integers(1, 7), st.lists(values, max_size=30))
def test_round_trip(role, vals):
    data = E.encode(role, vals)
    assert E.encode(role, vals) == data                 # deterministic
    r, back = E.decode(data)
    assert r == role and back == vals
    assert [type(v) for v in back] == [type(v) for v in vals]


def test_types_are_not_ambiguous():
    encs = {E.encode(3, [v]) for v in (1, 1.0, "1", b"1", None, True and 1)}
    assert len(encs) == 5


def test_role_separates_domains():
    assert E.encode(E.CARD_TX, ["x"]) != E.encode(E.AUTH_RESPONSE, ["x"])


@pytest.mark.parametrize("bad", [b"", b"CSIM", b"XXXX\x01\x01\x00\x00", b"CSIM\x02\x01\x00\x00",
                                 b"CSIM\x01\x01\x00\x01\x09", b"CSIM\x01\x01\x00\x01\x03\x00\x00\x00\x05ab",
                                 E.encode(1, [1]) + b"\x00", b"CSIM\x01\x01\x00\x01\x03\x00\x00\x00\x01\xff"])
def test_malformed_is_rejected(bad):
    with pytest.raises(E.EncodingError):
        E.decode(bad)


@given(st.binary(max_size=200))
def test_decode_never_raises_anything_else(data):
    try:
        E.decode(data)
    except E.EncodingError:
        pass


def test_unencodable():
    with pytest.raises(E.EncodingError):
        E.encode(1, [2**63])
    with pytest.raises(E.EncodingError):
        E.encode(1, [[1]])

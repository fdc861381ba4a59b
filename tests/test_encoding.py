import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

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


@pytest.mark.parametrize("bad", [b"", b"CSIM", b"XXXX\x02\x01\x00\x00", b"CSIM\x01\x01\x00\x00",
                                 b"CSIM\x02\x01\x00\x01\x09", b"CSIM\x02\x01\x00\x01\x03\x00\x00\x00\x05ab",
                                 E.encode(1, [1]) + b"\x00", b"CSIM\x02\x01\x00\x01\x03\x00\x00\x00\x01\xff"])
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


# --- compiled encoders: the same bytes as encode() for every input -------------------------------

class _Text(str):
    pass


_OF_TYPE = {int: st.integers(-(2**63), 2**63 - 1), float: st.floats(allow_nan=False),
            str: st.text(max_size=40), bytes: st.binary(max_size=80)}
#: values no table expects: out of range, bool, a str subclass, containers, numpy scalars
_ODD = st.one_of(st.integers(2**63, 2**70), st.integers(-(2**70), -(2**63) - 1), st.booleans(),
                 st.text(max_size=5).map(_Text), st.lists(st.integers(), max_size=2),
                 st.integers(-100, 100).map(np.int64), st.floats(-1e9, 1e9).map(np.float64),
                 st.just(bytearray(b"x")))


def _field_values(field, other: bool):
    """A value of the field's type or null; with ``other``, of any encodable type."""
    return st.one_of(_OF_TYPE[field.type], st.none(), *([values] if other else []))


def _same_as_generic(role, vals):
    try:
        want = E.encode(role, vals)
    except E.EncodingError:
        with pytest.raises(E.EncodingError):
            E.ENCODERS[role](vals)
        return
    assert E.ENCODERS[role](vals) == want


@settings(max_examples=300)
@given(st.data())
def test_compiled_encoders_equal_the_generic_encoder(data):
    role = data.draw(st.sampled_from(sorted(E.LAYOUTS)))
    fields = E.LAYOUTS[role]
    other = data.draw(st.booleans())
    vals = [data.draw(_field_values(f, other)) for f in fields]
    if data.draw(st.booleans()):            # one value no table expects
        vals[data.draw(st.integers(0, len(vals) - 1))] = data.draw(_ODD)
    _same_as_generic(role, tuple(vals))


@given(st.sampled_from(sorted(E.LAYOUTS)), st.lists(values, max_size=30))
def test_compiled_encoders_take_any_count_like_the_generic_one(role, vals):
    _same_as_generic(role, vals)


def test_compiled_encoders_on_typical_and_non_ascii_values():
    request = ("510000000042", 7, 300, "SC-MET-003-05", 2**32 - 1, 1629129600, 29234.125,
               "transit", "办证", "online")
    assert E.card_request_message(*request) == E.encode(E.CARD_REQUEST, request)
    tx = request + ("declined", "atc_jump", "issuer", None, b"\x02" * 32)
    assert E.ENCODERS[E.CARD_TX](tx) == E.encode(E.CARD_TX, tx) == E.card_tx_message(request, *tx[10:])
    auth = ("issuer-sichuan", "declined", "atc_jump", "issuer", 29234.0, b"\x01" * 32)
    assert E.auth_response_message(*auth) == E.encode(E.AUTH_RESPONSE, auth)
    for other in (None, 1, "x", b"x"):       # encodable, not the table's type: encode()'s bytes
        changed = tx[:6] + (other,) + tx[7:]
        assert E.ENCODERS[E.CARD_TX](changed) == E.encode(E.CARD_TX, changed)
        assert E.decode(E.ENCODERS[E.CARD_TX](changed))[1][6] == other
    for wrong in (True, np.float64(1.0), 2**63):  # unencodable: EncodingError, as verify expects
        with pytest.raises(E.EncodingError):
            E.card_tx_message(request[:6] + (wrong,) + request[7:], *tx[10:])


def test_every_role_has_a_compiled_encoder_and_the_record_follows_the_columns():
    from cardsim.records.record import COLUMN_NAMES
    assert set(E.LAYOUTS) == set(E.ROLE_NAMES) == set(E.ENCODERS)
    assert [f.name for f in E.LAYOUTS[E.RECORD]] == list(COLUMN_NAMES[:-2])
    assert E.CARD_TX_FIELDS == tuple(f.name for f in E.LAYOUTS[E.CARD_TX])

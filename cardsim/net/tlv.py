"""BER-TLV (ISO/IEC 8825-1, as EMV uses it) for field 55: tags of one to three bytes, definite
lengths of up to three length bytes, primitive values only at the top level.

No maintained Python library fits (the one on PyPI was last released in 2022 and parses by
guessing), so this is a small module of its own: :func:`encode` and :func:`decode` are exact
inverses on every well-formed input, and :func:`decode` refuses anything else with
:class:`TLVError` (truncated, trailing bytes, an over-long length, a repeated tag, a constructed
tag where a primitive one is expected).
"""

from __future__ import annotations

MAX_VALUE = 0xFFFF      # no value of field 55 comes near this


class TLVError(ValueError):
    pass


def _tag_bytes(tag: int) -> bytes:
    raw = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    if len(raw) > 3 or not _well_formed_tag(raw):
        raise TLVError(f"not a BER-TLV tag: {tag:X}")
    return raw


def _well_formed_tag(raw: bytes) -> bool:
    """A one-byte tag has low bits < 0x1F; a longer one has 0x1F in its first byte, the 0x80 bit
    in every byte but the last, and not in the last."""
    if len(raw) == 1:
        return raw[0] & 0x1F != 0x1F
    if raw[0] & 0x1F != 0x1F:
        return False
    return all(b & 0x80 for b in raw[1:-1]) and not raw[-1] & 0x80


def _length_bytes(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= MAX_VALUE:
        return bytes([0x82]) + n.to_bytes(2, "big")
    raise TLVError(f"value too long: {n} bytes")


def encode(items) -> bytes:
    """(tag, value bytes) pairs, in the order given, as BER-TLV."""
    out = []
    for tag, value in items:
        if not isinstance(value, (bytes, bytearray)):
            raise TLVError(f"tag {tag:X}: value must be bytes")
        out += [_tag_bytes(tag), _length_bytes(len(value)), bytes(value)]
    return b"".join(out)


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first & 0x1F != 0x1F:                 # performance shortcut: one-byte tags
        if first & 0x20:
            raise TLVError(f"constructed tag {first:02X} at byte {pos}: not expected here")
        return first, pos + 1
    if pos + 1 < len(data) and not data[pos + 1] & 0x80:     # two-byte tags (9F26, DF01 ...)
        if first & 0x20:
            raise TLVError(f"constructed tag {first:02X}{data[pos + 1]:02X} at byte {pos}: "
                           "not expected here")
        return (first << 8) | data[pos + 1], pos + 2
    end = pos + 1
    if data[pos] & 0x1F == 0x1F:
        while end < len(data) and data[end] & 0x80:
            end += 1
        end += 1
    raw = data[pos:end]
    if end > len(data) or len(raw) > 3 or not _well_formed_tag(raw):
        raise TLVError(f"malformed tag at byte {pos}")
    if raw[0] & 0x20:
        raise TLVError(f"constructed tag {raw.hex().upper()} at byte {pos}: not expected here")
    return int.from_bytes(raw, "big"), end


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TLVError("truncated length")
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    k = first & 0x7F
    if k == 0 or k > 2 or pos + 1 + k > len(data):
        raise TLVError(f"unsupported or truncated length at byte {pos}")
    n = int.from_bytes(data[pos + 1:pos + 1 + k], "big")
    if (k == 1 and n < 0x80) or (k == 2 and n <= 0xFF):
        raise TLVError(f"non-minimal length at byte {pos}")
    return n, pos + 1 + k


def decode(data: bytes) -> dict[int, bytes]:
    """BER-TLV bytes -> {tag: value}; each tag at most once."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        tag, pos = _read_tag(data, pos)
        n, pos = _read_length(data, pos)
        if pos + n > len(data):
            raise TLVError(f"tag {tag:X}: value truncated")
        if tag in out:
            raise TLVError(f"tag {tag:X} repeated")
        out[tag] = bytes(data[pos:pos + n])
        pos += n
    return out

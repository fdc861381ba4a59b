"""Frames on the wire: each message is preceded by its length, two bytes big-endian (what
jPOS-based hosts call a 2-byte binary length header). A frame longer than :data:`MAX_FRAME` or
empty is refused before any of its body is read."""

from __future__ import annotations

import asyncio
import struct

#: Largest message accepted (bytes). A 0100 with field 55 is about 450 bytes.
MAX_FRAME = 4096
_LEN = struct.Struct(">H")


class FrameError(Exception):
    """A frame that cannot be accepted; the connection is closed after it."""


def frame(message: bytes) -> bytes:
    if not 0 < len(message) <= 0xFFFF:
        raise FrameError(f"message of {len(message)} bytes cannot be framed")
    return _LEN.pack(len(message)) + message


async def read_head(reader: asyncio.StreamReader, idle_s: float, cap: int = MAX_FRAME) -> int | None:
    """The length of the next frame, or None when the peer closed cleanly between frames. Waits
    at most ``idle_s``; :class:`FrameError` on a time-out, a cut prefix or a length outside
    1..``cap`` (refused before any of the body is read)."""
    try:
        async with asyncio.timeout(idle_s):   # cheaper than wait_for: no task per read
            head = await reader.readexactly(2)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise FrameError("disconnected inside the length prefix") from None
    except asyncio.TimeoutError:
        raise FrameError(f"idle for {idle_s:g} s") from None
    (n,) = _LEN.unpack(head)
    if n == 0 or n > cap:
        raise FrameError(f"length prefix {n} outside 1..{cap}")
    return n


async def read_body(reader: asyncio.StreamReader, n: int, body_s: float) -> bytes:
    """The ``n`` bytes of a frame's body, within ``body_s``."""
    try:
        async with asyncio.timeout(body_s):
            return await reader.readexactly(n)
    except asyncio.IncompleteReadError as e:
        raise FrameError(f"disconnected after {len(e.partial)} of {n} bytes") from None
    except asyncio.TimeoutError:
        raise FrameError(f"frame of {n} bytes not complete within {body_s:g} s") from None


async def read_frame(reader: asyncio.StreamReader, idle_s: float, body_s: float,
                     cap: int = MAX_FRAME) -> bytes | None:
    """The next message, or None when the peer closed cleanly between messages."""
    n = await read_head(reader, idle_s, cap)
    return None if n is None else await read_body(reader, n, body_s)

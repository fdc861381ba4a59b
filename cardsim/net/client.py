"""A client connection to a node: one request at a time, each answer read within a time-out."""

from __future__ import annotations

import asyncio

from cardsim.net.framing import MAX_FRAME, FrameError, frame, read_frame
from cardsim.net.messages import decode


class NodeError(Exception):
    """The node could not be reached, closed the connection or sent no answer in time."""


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port); ValueError naming ``what``."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{what}: expected HOST:PORT, got {text!r}")
    return host, int(port)


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> "Connection":
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port, limit=MAX_FRAME + 2),
                                          timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise NodeError(f"cannot connect to {host}:{port}: {type(e).__name__}") from None
        return cls(r, w)

    async def exchange(self, message: bytes, timeout: float) -> dict:
        """Send one message and return the decoded answer."""
        try:
            self.writer.write(frame(message))
            async with asyncio.timeout(timeout):
                await self.writer.drain()
                data = await read_frame(self.reader, timeout, timeout)
        except asyncio.TimeoutError:
            raise NodeError("time-out") from None
        except FrameError as e:
            raise NodeError("time-out" if "idle" in str(e) else str(e)) from None
        except OSError as e:
            raise NodeError(f"connection error: {type(e).__name__}") from None
        if data is None:
            raise NodeError("connection closed by the node")
        return decode(data)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()

"""The event loop around a node: accept TCP connections, read frames, hand each decoded message
to the node's ``handle`` and write its answer; survive whatever a network sends.

- A frame is refused before its body is read when its length prefix is 0 or above the cap; a
  peer that sends nothing for ``idle_s``, or leaves a frame unfinished for ``frame_s``, or
  disconnects mid-frame is dropped; a frame that is not an ISO 8583 message closes its
  connection. Each rejection is one line on the log (stderr), its peer named.
- At most ``max_connections`` connections at once: one more is closed at once (and logged), so
  memory stays bounded (connections x the frame cap). One connection's failure never reaches
  another's.
- SIGTERM or SIGINT: stop accepting, close idle connections, answer the requests being handled,
  then return (the process exits 0).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import Awaitable, Callable

from cardsim.net.framing import MAX_FRAME, FrameError, frame, read_body, read_head
from cardsim.net.messages import MessageError, decode

Handler = Callable[[dict], Awaitable[bytes | None]]


@dataclass(frozen=True)
class Limits:
    max_connections: int = 512
    idle_s: float = 30.0
    frame_s: float = 5.0
    max_frame: int = MAX_FRAME
    write_s: float = 5.0
    grace_s: float = 5.0


def printable(text: str, limit: int = 160) -> str:
    """A peer's text made safe for one log line: control and non-ASCII characters escaped."""
    out = text.encode("ascii", "backslashreplace").decode("ascii")
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in out)
    return out[:limit]


def stderr_log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class NodeServer:
    """One listening node: ``handle`` answers each message (None: no answer)."""

    def __init__(self, name: str, handle: Handler, limits: Limits = Limits(),
                 log: Callable[[str], None] = stderr_log):
        self.name, self.handle, self.limits, self.log = name, handle, limits, log
        self.idle: set[asyncio.Task] = set()
        self.tasks: set[asyncio.Task] = set()
        self.stopping = False
        self.server: asyncio.base_events.Server | None = None
        self.rejected = 0

    def reject(self, peer: str, why: str) -> None:
        self.rejected += 1
        self.log(f"cardsim {self.name}: rejected {peer}: {printable(why)}")

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._client, host, port, limit=self.limits.max_frame + 2,
                                                 backlog=min(self.limits.max_connections, 4096))
        sock = self.server.sockets[0].getsockname()
        return sock[0], sock[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        addr = writer.get_extra_info("peername")
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else "peer"
        if self.stopping or len(self.tasks) >= self.limits.max_connections:
            self.reject(peer, f"connection limit {self.limits.max_connections} reached")
            writer.close()
            return
        self.tasks.add(task)
        try:
            await self._serve(reader, writer, peer, task)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as e:
            self.reject(peer, f"connection error: {type(e).__name__}")
        finally:
            self.tasks.discard(task)
            self.idle.discard(task)
            writer.close()

    async def _serve(self, reader, writer, peer: str, task) -> None:
        lim = self.limits
        while not self.stopping:
            self.idle.add(task)
            try:
                n = await read_head(reader, lim.idle_s, lim.max_frame)
                if n is None:
                    return
                self.idle.discard(task)
                data = await read_body(reader, n, lim.frame_s)
                doc = decode(data)
            except (FrameError, MessageError) as e:
                self.reject(peer, str(e))
                return
            finally:
                self.idle.discard(task)
            try:
                out = await self.handle(doc)
            except Exception as e:   # noqa: BLE001 - a node's bug must not take the loop down
                self.reject(peer, f"internal error ({type(e).__name__}) on a {doc.get('t')!r}")
                return
            if out is None:
                continue
            writer.write(frame(out))
            if writer.transport.get_write_buffer_size() < 65536:
                continue          # performance shortcut: no drain while the buffer is small
            try:
                await asyncio.wait_for(writer.drain(), lim.write_s)
            except asyncio.TimeoutError:
                self.reject(peer, f"not reading its answers for {lim.write_s:g} s")
                return

    async def serve(self, host: str, port: int, ready: Callable[[str, int], None]) -> None:
        """Listen until SIGTERM or SIGINT; ``ready(host, port)`` once accepting."""
        bound = await self.start(host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready(*bound)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()

    async def stop(self) -> None:
        """Stop accepting, close idle connections and let busy ones finish their request."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
        for t in list(self.idle):
            t.cancel()
        busy = list(self.tasks)
        if busy:
            await asyncio.wait(busy, timeout=self.limits.grace_s)
        for t in busy:
            t.cancel()

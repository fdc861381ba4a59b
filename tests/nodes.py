"""Helpers for the live-node tests: cardsim nodes as separate processes on loopback, each on a
free port (``--listen 127.0.0.1:0``), always stopped at the end of the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

START_TIMEOUT = 60.0


class Node:
    """A running ``cardsim serve`` process and the lines it wrote on stderr."""

    def __init__(self, args: list[str], cwd: Path | None = None):
        self.attach(subprocess.Popen([sys.executable, "-m", "cardsim", "serve", *args,
                                      "--listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=cwd,
                                     start_new_session=True))

    def attach(self, proc: subprocess.Popen) -> None:
        """Follow ``proc``'s stderr until it says where it listens."""
        self.proc = proc
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT):
            self.kill()
            raise AssertionError(f"node did not start: {self.lines}")
        first = next(line for line in self.lines if line.startswith("listening on "))
        host, port = first.split()[-1].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("listening on "):
                self._ready.set()
        self._ready.set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.settimeout(timeout)
        return s

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, and the exit code (killed after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def wait_for_line(self, text: str, timeout: float = 5.0, since: int = 0) -> str:
        """The first line from ``since`` on that holds ``text`` (waiting up to ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[since:]:
                if text in line:
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r} in {self.lines}")


class Nodes:
    """Several nodes, all stopped (killed if need be) on exit."""

    def __init__(self):
        self.started: list[Node] = []

    def start(self, *args: str) -> Node:
        node = Node([str(a) for a in args])
        self.started.append(node)
        return node

    def issuers(self, log: Path, keys: Path) -> dict[str, Node]:
        return {p: self.start("issuer", "--province", p, "--log", log, "--keys", keys)
                for p in ("sichuan", "chongqing")}

    def close(self) -> None:
        for n in self.started:
            n.kill()


def cardsim_cli(*args, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cardsim", *[str(a) for a in args]],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def established(port: int) -> int:
    """Established TCP connections to ``port`` on this host (Linux /proc/net/tcp, IPv4)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return sum(1 for r in rows if int(r[1].rsplit(":", 1)[1], 16) == port and r[3] == "01")


def wait_until_serving_a_client(node: Node, timeout: float = 30.0) -> None:
    """Wait until a client holds a connection to ``node`` over two looks 0.3 s apart (a replay's
    worker connection, not its short start-up echo)."""
    end = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < end:
        seen = seen + 1 if established(node.port) else 0
        if seen >= 2:
            return
        time.sleep(0.3)
    raise AssertionError("no client connected to the node")

"""A node survives what a network sends (cardsim.net.server): garbage, truncated frames, an
oversized length prefix, silent clients, a flood of connections, a disconnect mid-message; one
bad client never affects the next, and each rejection is one line on stderr."""

import socket
import struct
import time

import pytest

import cardsim
from cardsim.net import messages as M
from cardsim.net.framing import MAX_FRAME, frame
from conftest import QUICK, ROOT
from nodes import Nodes


@pytest.fixture(scope="module")
def log(tmp_path_factory, keys_dir):
    sc = cardsim.load_scenario(ROOT / "scenarios" / "weekday.toml", scale=0.005, sets=QUICK)
    out = tmp_path_factory.mktemp("srv") / "w.db"
    cardsim.run(sc, out, keys_dir=keys_dir, workers=1)
    return out


@pytest.fixture(scope="module")
def node(log, keys_dir):
    nodes = Nodes()
    try:
        yield nodes.start("issuer", "--province", "sichuan", "--log", log, "--keys", keys_dir,
                          "--idle-timeout", "1", "--max-connections", "16")
    finally:
        nodes.close()


def echo(node, stan="000001") -> dict:
    """An 0800 echo on a fresh connection: the node still serves."""
    with node.connect() as s:
        s.sendall(frame(M.network_request(stan)))
        head = _recv(s, 2)
        return M.decode(_recv(s, struct.unpack(">H", head)[0]))


def _recv(s, n) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def closed_by_node(s, timeout=5.0) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def rejected_lines(node, before: int) -> list[str]:
    return [line for line in node.lines[before:] if "rejected" in line]


def test_echo_is_answered(node):
    doc = echo(node)
    assert (doc["t"], doc["39"], doc["11"], doc["70"]) == ("0810", "00", "000001", "301")


@pytest.mark.parametrize("data, why", [
    (struct.pack(">H", 12) + b"\xff" * 12, "not an ISO 8583 message"),     # garbage in a frame
    (struct.pack(">H", MAX_FRAME + 1), "length prefix"),                   # oversized prefix
    (struct.pack(">H", 0), "length prefix"),                               # empty frame
    (b"GET / HTTP/1.1\r\n\r\n", "length prefix"),                          # another protocol
])
def test_a_bad_frame_closes_its_connection_is_logged_and_the_node_serves_on(node, data, why):
    before = len(node.lines)
    with node.connect() as s:
        s.sendall(data)
        assert closed_by_node(s)
    line = node.wait_for_line(why, since=before)
    assert "rejected 127.0.0.1:" in line and "\n" not in line
    assert len(rejected_lines(node, before)) == 1
    assert echo(node)["39"] == "00"


def test_a_truncated_frame_and_a_disconnect_mid_message(node):
    before = len(node.lines)
    with node.connect() as s:                      # says 200 bytes, sends 10, goes away
        s.sendall(struct.pack(">H", 200) + b"0800" + b"\x00" * 6)
    node.wait_for_line("disconnected after 10 of 200 bytes", since=before)
    with node.connect() as s:                      # half a length prefix
        s.sendall(b"\x00")
    node.wait_for_line("disconnected inside the length prefix", since=before)
    assert len(rejected_lines(node, before)) == 2
    assert echo(node)["39"] == "00"


def test_a_silent_client_is_dropped_after_the_idle_timeout(node):
    t0 = time.monotonic()
    with node.connect() as s:
        assert closed_by_node(s, timeout=10)
    assert 0.8 < time.monotonic() - t0 < 8
    node.wait_for_line("idle for 1 s")


@pytest.fixture
def patient_node(log, keys_dir):
    """A node with a long idle time-out: held connections stay open."""
    nodes = Nodes()
    try:
        yield nodes.start("issuer", "--province", "sichuan", "--log", log, "--keys", keys_dir,
                          "--max-connections", "16")
    finally:
        nodes.close()


def test_connections_beyond_the_limit_are_refused_and_the_others_keep_working(patient_node):
    node = patient_node
    held = [node.connect() for _ in range(16)]
    try:
        time.sleep(0.3)
        extra = [node.connect() for _ in range(40)]
        assert all(closed_by_node(s) for s in extra)
        node.wait_for_line("connection limit 16 reached")
        for s in extra:
            s.close()
        s = held[0]                                # an accepted one still answers
        s.sendall(frame(M.network_request("000002")))
        assert M.decode(_recv(s, struct.unpack(">H", _recv(s, 2))[0]))["11"] == "000002"
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    assert echo(node)["39"] == "00"


def test_a_malformed_authorisation_is_answered_with_a_format_error(node):
    bad = M.encode({"t": "0100", "2": "510000000001", "4": "000000000100", "11": "000777",
                    "37": "T1".ljust(12), "55": "9F2601"})       # field 55 cut short
    with node.connect() as s:
        s.sendall(frame(bad))
        doc = M.decode(_recv(s, struct.unpack(">H", _recv(s, 2))[0]))
    assert (doc["t"], doc["39"], doc["11"]) == ("0110", "30", "000777")
    assert "55" not in doc                          # no decision, no signature


def test_many_bad_clients_leave_memory_and_service_alone(node):
    for i in range(200):
        with socket.create_connection((node.host, node.port), timeout=5) as s:
            s.sendall(struct.pack(">H", 4000) + b"x" * (i % 50))
    # the bad clients' connections go as the node sees each disconnect (the limit refuses
    # newcomers until then): within a few seconds the node serves again
    end = time.monotonic() + 10
    while True:
        try:
            assert echo(node)["39"] == "00"
            break
        except ConnectionError:
            assert time.monotonic() < end, "the node did not serve again"
            time.sleep(0.2)
    assert node.proc.poll() is None

"""relayd's rtcp/rudp/SOCKS5-UDP client against a scripted GOST relay server
speaking the captured bytes of relay-vectors.json and smux-vectors.json: the
BIND requests relayd sends are GOST's byte for byte, a captured server-side
BIND exchange reaches the target and the reply comes back as GOST's client
wrote it, and a stream with a bad header drops the BIND, which relayd opens
again (GOST's rtcp listener does the same)."""
import json
import socket
import struct
import threading

import pytest

import relaywire as rw
from conftest import ROOT, free_port

VEC = {e["name"]: e for f in ("relay-vectors.json", "smux-vectors.json")
       for e in json.loads((ROOT / "tests" / "vectors" / f).read_text())}


def vec(prefix):
    for name, e in VEC.items():
        if name.startswith(prefix):
            return bytes.fromhex(e["hex"])
    raise KeyError(prefix)


class FakeRelayServer:
    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen()
        self.ls.settimeout(20)
        self.port = self.ls.getsockname()[1]

    def accept(self):
        c, _ = self.ls.accept()
        c.settimeout(20)
        return c

    def close(self):
        self.ls.close()


@pytest.fixture
def fake():
    f = FakeRelayServer()
    yield f
    f.close()


def test_rtcp_speaks_gosts_bind_and_smux_bytes(procs, fake):
    # the target: reads the banner, answers with its own, closes
    tl = socket.socket()
    tl.bind(("127.0.0.1", 0))
    tl.listen()
    got = {}

    def target():
        c, _ = tl.accept()
        c.settimeout(20)
        got["banner"] = rw.recv_exact(c, 11)
        c.sendall(b"SSH-2.0-y\r\n")
        c.close()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    procs.relayd("-L", f"rtcp://:2222/127.0.0.1:{tl.getsockname()[1]}",
                 "-F", f"relay://127.0.0.1:{fake.port}", name="client")
    c = fake.accept()
    req = vec("req_bind_tcp_head")
    assert rw.recv_exact(c, len(req)) == req
    # GOST's server: the BIND response, SYN, the peer header, the first bytes
    c.sendall(vec("relay_bind_tcp_server_to_client_sequence"))
    t.join(20)
    assert got["banner"] == b"SSH-2.0-x\r\n"
    reply = vec("relay_bind_tcp_client_to_server_reply_and_close")
    data = b""
    while len(data) < len(reply):
        chunk = c.recv(4096)
        assert chunk, data
        data += chunk
        # keepalive NOPs may come in between: drop them
        data = data.replace(vec("smux_v1_keepalive_NOP"), b"")
    assert data == reply
    # a stream whose header is not OK makes relayd drop the BIND and bind again
    bad = b"\x01\x01\x00\x00"       # a relay response with status 1
    c.sendall(struct.pack("<BBHI", 1, 0, 0, 5) + struct.pack("<BBHI", 1, 2, len(bad), 5) + bad)
    assert rw.read_all(c, timeout=20).replace(vec("smux_v1_keepalive_NOP"), b"") in (
        b"", b"\x01\x01\x00\x00\x05\x00\x00\x00")      # at most a FIN for the bad stream
    c2 = fake.accept()
    assert rw.recv_exact(c2, len(req)) == req
    c2.close()
    c.close()
    tl.close()


def test_rtcp_with_auth_sends_user_first(procs, fake):
    procs.relayd("-L", "rtcp://:2222/127.0.0.1:9", "-F", f"relay://user:pass@127.0.0.1:{fake.port}",
                 name="client")
    c = fake.accept()
    req = vec("req_bind_tcp_with_auth")
    assert rw.recv_exact(c, len(req)) == req
    c.close()


def test_rudp_sends_gosts_udp_bind_and_frames(procs, fake):
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(20)
    procs.relayd("-L", f"rudp://:10053/127.0.0.1:{echo.getsockname()[1]}",
                 "-F", f"relay://127.0.0.1:{fake.port}", name="client")
    c = fake.accept()
    req = vec("req_bind_udp")
    assert rw.recv_exact(c, len(req)) == req
    c.sendall(vec("resp_bind_ok_bound_ipv6_any"))
    # a datagram from 8.8.8.8:53 reaches the target; the answer goes back framed to that peer
    c.sendall(vec("udpbind_frame_ipv4"))
    data, src = echo.recvfrom(100)
    assert data == b"abc"
    echo.sendto(b"abc", src)
    frame = vec("udpbind_frame_ipv4")
    assert rw.recv_exact(c, len(frame)) == frame
    c.close()


def test_socks5_udp_associate_sends_gosts_association_request(procs, fake):
    lp = free_port()
    procs.relayd("-L", f"socks5://:{lp}?udp=true", "-F", f"relay://127.0.0.1:{fake.port}",
                 name="client")
    s = socket.create_connection(("127.0.0.1", lp), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
    c = fake.accept()
    req = vec("req_udp_association_head")
    assert rw.recv_exact(c, len(req)) == req
    c.sendall(vec("resp_bind_ok_bound_ipv4"))
    assert s.recv(10)[:2] == b"\x05\x00"
    s.close()
    c.close()

"""Bad input on the tls, ws and wss listeners while a rate-limited transfer
runs through the same daemons: each gets GOST's answer (an HTTP error, a
Close frame) or a clean close, and a log line; the running transfer and a
fresh one afterwards still arrive intact."""
import os
import socket
import ssl
import struct
import threading
import time

import pytest

import relaywire as rw
from conftest import MiB, free_port
from origin import Origin, pattern_sha256
from test_tls import curl_sha, fetch_ok


@pytest.fixture
def origin():
    o = Origin()
    yield o
    o.close()


class Busy:
    """A client and a server relayd over scheme, with a transfer in flight."""

    N = 24 * MiB

    def __init__(self, procs, origin, scheme):
        self.origin = origin
        self.sport, self.lport = free_port(), free_port()
        self.server = procs.relayd("-L", f"{scheme}://:{self.sport}?handshakeTimeout=500ms",
                                   name="server")
        self.client = procs.relayd("-L", f":{self.lport}", "-F",
                                   f"{scheme}://127.0.0.1:{self.sport}", name="client")
        self.result = None
        self.t = threading.Thread(target=self._run)
        self.t.start()
        deadline = time.monotonic() + 10
        while not self.server.conns():
            assert time.monotonic() < deadline, "the transfer did not start"
            time.sleep(0.02)

    def _run(self):
        self.result = curl_sha(self.origin.url(self.N), "-x", f"http://127.0.0.1:{self.lport}",
                               "--limit-rate", "12M")

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.server.text():
            assert time.monotonic() < deadline, f"no log line with {text!r}:\n{self.server.text()}"
            time.sleep(0.02)

    def check(self):
        self.t.join(120)
        digest, got, rc, err = self.result
        assert rc == 0, err
        assert got == self.N and digest == pattern_sha256(self.N)
        fetch_ok(self.origin, self.lport, MiB)


def exchange(port, data, tls=False, timeout=10):
    """Send data, then read until the server closes; returns what came back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    with s:
        if data:
            s.sendall(data)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except ssl.SSLError:
                break
            if not b:
                break
            out += b
    return out


def upgrade(path="/ws", method="GET", extra=b""):
    return (method.encode() + b" " + path.encode() + b" HTTP/1.1\r\nHost: relayd.test\r\n"
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + extra + b"\r\n")


def frame(payload, length=None, masked=True):
    n = len(payload) if length is None else length
    head = bytes([0x82])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 1 << 16:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))



def after_upgrade(port, data):
    """Upgrade, send data as the first frame(s); returns (response head, all that follows)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(upgrade())
        resp = b""
        while b"\r\n\r\n" not in resp:
            resp += s.recv(4096)
        s.sendall(data)
        return resp, rw.read_all(s)

def test_tls_port_bad_input(procs, origin):
    b = Busy(procs, origin, "relay+tls")
    # a plain HTTP request: OpenSSL's alert at most, then the close
    out = exchange(b.sport, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out == b"" or out[0] == 0x15, out           # 0x15: a TLS alert record
    b.wait_log("tls: handshake:")
    # a relay request in clear text
    out = exchange(b.sport, rw.request(rw.CONNECT, rw.addr("127.0.0.1", origin.port)))
    assert out == b"" or out[0] == 0x15, out
    # silent, and stalled inside a ClientHello record: the handshake deadline
    assert exchange(b.sport, b"") == b""
    assert exchange(b.sport, b"\x16\x03\x01\x02\x00\x01\x00\x01") == b""
    b.wait_log("tls: handshake: timeout")
    b.check()


def test_ws_port_bad_input(procs, origin):
    b = Busy(procs, origin, "relay+ws")
    out = exchange(b.sport, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404 Not Found\r\n") and out.endswith(b"\r\n\r\nNot Found\n")
    b.wait_log("upgrade refused (404)")
    out = exchange(b.sport, b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out
    assert b"Sec-Websocket-Version: 13\r\n" in out
    b.wait_log("'upgrade' token not found in 'Connection' header")
    out = exchange(b.sport, b"GET /ws HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out
    b.wait_log("missing required Host header")
    assert exchange(b.sport, upgrade(method="POST")).startswith(b"HTTP/1.1 405 ")
    assert exchange(b.sport, upgrade(path="/other")).startswith(b"HTTP/1.1 404 ")
    out = exchange(b.sport, upgrade(extra=b"X-Big: " + b"a" * 20000 + b"\r\n"))
    assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), out
    # gorilla's rule: nothing may follow the request before the 101
    assert exchange(b.sport, upgrade() + frame(b"early")) == b""
    b.wait_log("client sent data before handshake is complete")
    # a frame announcing 1 TiB: Close 1009 (message too big), then the close
    resp, out = after_upgrade(b.sport, frame(b"x" * 100, length=1 << 40))
    assert resp.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in resp
    assert out[:4] == b"\x88\x02\x03\xf1", out           # Close, code 1009
    b.wait_log("bytes over the limit of 67108864 (close 1009)")
    # an unmasked client frame: Close 1002 (protocol error)
    _, out = after_upgrade(b.sport, frame(b"unmasked", masked=False))
    assert out[:4] == b"\x88\x02\x03\xea", out           # Close, code 1002
    b.wait_log("incorrect mask flag (close 1002)")
    # stalled in the middle of the request
    assert exchange(b.sport, b"GET /ws HTTP/1.1\r\nHost: x\r\n") == b""
    b.wait_log("ws: upgrade: handshake timeout")
    b.check()


def test_wss_port_bad_input(procs, origin):
    b = Busy(procs, origin, "relay+wss")
    out = exchange(b.sport, upgrade(path="/nope"), tls=True)
    assert out.startswith(b"HTTP/1.1 404 Not Found\r\n"), out
    b.wait_log("upgrade refused (404)")
    out = exchange(b.sport, upgrade())                   # WebSocket without TLS
    assert out == b"" or out[0] == 0x15, out
    b.wait_log("tls: handshake:")
    b.check()

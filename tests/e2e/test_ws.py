"""relay over WebSocket and secure WebSocket: curl through ws/wss client
chains (big sha256-checked transfers, mixed multi-hop chains, the path
metadata, client keepalive pings), half-close across tls/ws/wss, relayctl's
view of the transport stack,
and Python's websockets library (Debian python3-websockets, written by
nobody here) speaking relay to the ws listener."""
import asyncio
import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest
import websockets

import relaywire as rw
from conftest import BIG, RELAYCTL, MiB, free_port
from origin import Origin
from targets import Target
from test_tls import curl_sha, fetch_ok

BANNER = b"HELLO-FROM-TARGET\r\n"


@pytest.fixture
def origin():
    o = Origin()
    yield o
    o.close()


@pytest.mark.parametrize("scheme", ["relay+ws", "relay+wss"])
def test_curl_through_a_ws_chain_big_transfer(procs, origin, scheme):
    sport, lport = free_port(), free_port()
    server = procs.relayd("-L", f"{scheme}://user:pass@:{sport}", name="server")
    client = procs.relayd("-L", f":{lport}", "-F", f"{scheme}://user:pass@127.0.0.1:{sport}",
                          name="client")
    fetch_ok(origin, lport, BIG)
    for rd in (client, server):
        rd.wait_idle()


def test_path_metadata_on_both_ends(procs, origin):
    sport, good, bad = free_port(), free_port(), free_port()
    server = procs.relayd("-L", f"relay+ws://:{sport}?path=/tunnel", name="server")
    procs.relayd("-L", f":{good}", "-F", f"relay+ws://127.0.0.1:{sport}?path=/tunnel",
                 name="good")
    badc = procs.relayd("-L", f":{bad}", "-F", f"relay+ws://127.0.0.1:{sport}", name="bad")
    fetch_ok(origin, good, MiB)
    _, got, rc, _ = curl_sha(origin.url(MiB), "-x", f"http://127.0.0.1:{bad}", "-f")
    assert rc != 0 and got == 0
    assert "bad handshake: HTTP/1.1 404 Not Found" in badc.text()
    assert "upgrade refused (404)" in server.text()


def test_keepalive_pings_are_answered(procs):
    """A client pinging every 500 ms drops the connection after two periods
    without a pong: data still flowing after several periods proves the pongs
    (a second of slack for a loopback pong, so a busy machine does not fail it)."""
    target = Target("echo")
    sport, lport = free_port(), free_port()
    procs.relayd("-L", f"relay+ws://:{sport}", name="server")
    client = procs.relayd("-L", f"tcp://:{lport}/127.0.0.1:{target.port}", "-F",
                          f"relay+ws://127.0.0.1:{sport}?keepAlive=true&ttl=500ms",
                          name="client")
    with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
        for i in range(8):
            s.sendall(b"ping %d\n" % i)
            assert rw.recv_exact(s, 7) == b"ping %d\n" % i
            time.sleep(0.4)
    assert "no pong" not in client.text()
    target.close()


def test_relayctl_shows_the_stack_and_tls(procs):
    target = Target("echo")
    sport, lport = free_port(), free_port()
    server = procs.relayd("-L", f"relay+wss://:{sport}", name="server")
    client = procs.relayd("-L", f"tcp://:{lport}/127.0.0.1:{target.port}", "-F",
                          f"relay+wss://127.0.0.1:{sport}", name="client")
    with socket.create_connection(("127.0.0.1", lport), timeout=10) as s:
        s.sendall(b"hello\n")
        assert rw.recv_exact(s, 6) == b"hello\n"
        sc = server.conns()
        cc = client.conns()
        table = subprocess.run([RELAYCTL, "--ctl", server.ctl, "conns"], capture_output=True,
                               text=True, timeout=10).stdout
        one = subprocess.run([RELAYCTL, "--ctl", server.ctl, "conn", str(sc[0]["id"])],
                             capture_output=True, text=True, timeout=10).stdout
    assert table.splitlines()[0].split()[-1] == "STACK" and "wss>tcp|tcp" in table, table
    assert 'stack: "wss>tcp|tcp"' in one and 'tls_client: "TLSv1.3 TLS_' in one, one
    assert len(sc) == 1 and sc[0]["stack"] == "wss>tcp|tcp", sc
    assert sc[0]["tls_client"].startswith("TLSv1.3 TLS_"), sc
    assert len(cc) == 1 and cc[0]["stack"] == "tcp|relay>wss>tcp", cc
    assert cc[0]["tls_target"].startswith("TLSv1.3 TLS_"), cc
    target.close()


async def _websockets_relay(port, target_port, payload):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        await ws.send(rw.request(rw.CONNECT, rw.addr("127.0.0.1", target_port)))
        got = b""
        while len(got) < 4 + len(BANNER):
            got += await asyncio.wait_for(ws.recv(), 10)

        async def echo_of(n):
            back = b""
            while len(back) < n:
                back += await asyncio.wait_for(ws.recv(), 10)
            return back

        await ws.send(payload)                          # one big masked frame
        echoed = await echo_of(len(payload))
        # a fragmented message: its frames are one stream too
        await ws.send([payload[:1000], payload[1000:5000], payload[5000:6000]])
        fragmented = await echo_of(6000)
        # a text message is data as well (gorilla does not check it)
        await ws.send("text is bytes too")
        text = await echo_of(17)
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close()
        return got, echoed, fragmented, text, ws.close_code


def test_python_websockets_client_speaks_relay(procs):
    target = Target("banner")
    port = free_port()
    procs.relayd("-L", f"relay+ws://:{port}", name="server")
    payload = os.urandom(1 << 20)
    got, echoed, fragmented, text, code = asyncio.run(
        _websockets_relay(port, target.port, payload))
    assert got[:4] == bytes([1, 0, 0, 0])               # relay response: OK
    assert got[4:] == BANNER
    assert echoed == payload
    assert fragmented == payload[:6000]
    assert text == b"text is bytes too"
    assert code == 1000                                 # our Close echo came back
    target.close()


def _digest_after_eof_server():
    """A target that reads until the client's EOF, then answers the sha256
    of what it got: it only works if a half-close crosses every layer."""
    srv = socket.create_server(("127.0.0.1", 0))

    def serve():
        c, _ = srv.accept()
        with c:
            h = hashlib.sha256()
            while True:
                b = c.recv(65536)
                if not b:
                    break
                h.update(b)
            c.sendall(h.hexdigest().encode())
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


@pytest.mark.parametrize("scheme", ["relay+tls", "relay+ws", "relay+wss"])
def test_half_close_crosses_each_transport(procs, scheme):
    srv, t = _digest_after_eof_server()
    sport, lport = free_port(), free_port()
    procs.relayd("-L", f"{scheme}://:{sport}", name="server")
    procs.relayd("-L", f"tcp://:{lport}/127.0.0.1:{srv.getsockname()[1]}", "-F",
                 f"{scheme}://127.0.0.1:{sport}", name="client")
    data = os.urandom(3 * MiB + 11)
    with socket.create_connection(("127.0.0.1", lport), timeout=20) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        assert rw.read_all(s, timeout=20) == hashlib.sha256(data).hexdigest().encode()
    t.join(10)
    srv.close()


class PythonWsRelay:
    """A relay 'server' on Python's websockets: answers OK to the first relay
    request and echoes everything after it; pings its client every 200 ms
    and drops it when a pong is a second late.  It checks our dialer's
    upgrade, masking and pongs against an implementation nobody here wrote."""

    def __init__(self):
        self.paths, self.requests, self.hosts = [], [], []
        ready = threading.Event()
        self.t = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.t.start()
        assert ready.wait(10)

    async def _handler(self, ws, path):
        self.paths.append(path)
        self.hosts.append(ws.request_headers.get("Host"))
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[2:4], "big"):
            buf += await ws.recv()
        n = 4 + int.from_bytes(buf[2:4], "big")
        self.requests.append(buf[:n])
        await ws.send(b"\x01\x00\x00\x00" + buf[n:])
        async for m in ws:
            await ws.send(m)

    def _run(self, ready):
        self.loop = asyncio.new_event_loop()

        async def main():
            async with websockets.serve(self._handler, "127.0.0.1", 0, ping_interval=0.2,
                                        ping_timeout=1, max_size=None) as srv:
                self.port = srv.sockets[0].getsockname()[1]
                self.stop = self.loop.create_future()
                ready.set()
                await self.stop
        self.loop.run_until_complete(main())

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set_result, None)
        self.t.join(10)


def test_our_dialer_against_python_websockets_server(procs):
    py = PythonWsRelay()
    lport = free_port()
    procs.relayd("-L", f"tcp://:{lport}/example.test:80", "-F",
                 f"relay+ws://127.0.0.1:{py.port}?path=/tunnel", name="client")
    data = os.urandom(2 * MiB)
    with socket.create_connection(("127.0.0.1", lport), timeout=20) as s:
        s.sendall(data[:100])
        assert rw.recv_exact(s, 100) == data[:100]
        time.sleep(1.5)             # several pings: without our pongs the server drops us
        s.sendall(data)
        assert rw.recv_exact(s, len(data), timeout=20) == data
    assert py.paths == ["/tunnel"]
    assert py.hosts == [f"127.0.0.1:{py.port}"]     # GOST: the node address as written
    assert py.requests[0] == rw.request(rw.CONNECT, rw.addr("example.test", 80))
    py.close()

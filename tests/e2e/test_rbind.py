"""Remote port forwarding end to end, relayd on both sides: rtcp exposing a
real HTTP server and rudp exposing a real DNS server (dnsmasq) through a relay
BIND, used from the server side with curl and dig; the rtcp listener survives
the relay server being killed and restarted; relayctl shows each BIND."""
import concurrent.futures
import hashlib
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import RELAYD, free_port, have, wait_for, wait_port


@pytest.fixture
def www(procs, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    sums = {}
    for i in range(100):
        data = os.urandom(1000 + 997 * i)
        (root / f"f{i}").write_bytes(data)
        sums[f"f{i}"] = hashlib.sha256(data).hexdigest()
    port = free_port()
    p = procs.proc(["/usr/bin/python3", "-m", "http.server", port, "--bind", "127.0.0.1",
                    "--directory", root], "http")
    wait_port(port)
    p.port, p.sums = port, sums
    return p


def relay_server(procs, port, killable=False):
    args = ["-L", f"relay://:{port}?bind=true"]
    if killable:
        # a plain process: the test kills it, so teardown must not judge its exit code
        p = procs.proc([RELAYD, "--ctl", procs.tmp / f"srv-{port}-{time.monotonic()}.sock",
                        "--fastpath=off", *args], f"srv-{time.monotonic()}")
        wait_port(port)
        return p
    return procs.relayd(*args, name="server")


def fetch(port, name):
    r = subprocess.run(["curl", "-sS", "--max-time", "60", f"http://127.0.0.1:{port}/{name}"],
                       capture_output=True, timeout=90)
    assert r.returncode == 0, r.stderr
    return hashlib.sha256(r.stdout).hexdigest()


def serves(port, name="f0"):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET /{name} HTTP/1.0\r\n\r\n".encode())
            s.settimeout(5)
            return s.recv(12).startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def test_rtcp_exposes_an_http_server_100_concurrent_fetches(procs, www):
    sp, bp = free_port(), free_port()
    srv = relay_server(procs, sp)
    procs.relayd("-L", f"rtcp://:{bp}/127.0.0.1:{www.port}", "-F", f"relay://127.0.0.1:{sp}",
                 name="client")
    wait_for(lambda: serves(bp), what="the rtcp BIND never served")
    names = sorted(www.sums)
    with concurrent.futures.ThreadPoolExecutor(100) as ex:
        got = dict(zip(names, ex.map(lambda n: fetch(bp, n), names)))
    assert got == www.sums
    # relayctl on the server: the BIND with its address and owner
    # relayctl on the server: the BIND with its address and owner, and a live
    # stream linked to it with its bytes
    with socket.create_connection(("127.0.0.1", bp)) as s:
        s.sendall(b"GET /f1 HTTP/1.0\r\n")
        binds = [c for c in srv.conns() if c["target"].startswith("bind ")]
        assert len(binds) == 1 and binds[0]["target"] == f"bind [::]:{bp}"
        assert binds[0]["client"].startswith("127.0.0.1:")
        streams = wait_for(lambda: [c for c in srv.conns() if c["proto"] == "bind"
                                    and c["bytes_up"] > 0])
        assert streams[0]["target"] == f"bind#{binds[0]['id']} {binds[0]['client']}"
        assert streams[0]["client"] == "127.0.0.1:%d" % s.getsockname()[1]
        assert streams[0]["stack"].startswith("tcp|smux#")


def test_rtcp_reconnects_after_the_relay_server_is_killed(procs, www):
    sp, bp = free_port(), free_port()
    first = relay_server(procs, sp, killable=True)
    procs.relayd("-L", f"rtcp://:{bp}/127.0.0.1:{www.port}", "-F", f"relay://127.0.0.1:{sp}",
                 name="client")
    wait_for(lambda: serves(bp), what="the rtcp BIND never served")
    first.stop(signal.SIGKILL)
    wait_for(lambda: not serves(bp), what="the bound port outlived its server")
    relay_server(procs, sp, killable=True)
    wait_for(lambda: serves(bp), timeout=60, what="rtcp did not bind again")
    assert fetch(bp, "f42") == www.sums["f42"]


@pytest.mark.skipif(not (have("dnsmasq") and have("dig")), reason="needs dnsmasq and dig")
def test_rudp_exposes_dnsmasq_to_dig_on_the_server_side(procs, tmp_path):
    dns, sp, bp = free_port(), free_port(), free_port()
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.55 bind-test.example\n")
    procs.proc(["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", f"--addn-hosts={hosts}",
                "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={dns}",
                "--user=root", f"--pid-file={tmp_path / 'dnsmasq.pid'}"], "dnsmasq")
    srv = relay_server(procs, sp)
    procs.relayd("-L", f"rudp://:{bp}/127.0.0.1:{dns}", "-F", f"relay://127.0.0.1:{sp}",
                 name="client")

    def dig():
        r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(bp), "@127.0.0.1",
                            "bind-test.example"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    assert wait_for(lambda: dig() == "192.0.2.55", what="no DNS answer through rudp")
    for _ in range(5):
        assert dig() == "192.0.2.55"
    binds = [c for c in srv.conns() if c["target"].startswith("bind ")]
    assert len(binds) == 1 and binds[0]["target"] == f"bind [::]:{bp}/udp"
    assert binds[0]["bytes_up"] > 0 and binds[0]["bytes_down"] > 0


def socks5_udp_associate(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"\x05\x01\x00")
    assert c.recv(2) == b"\x05\x00"
    c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
    rep = c.recv(10)
    return c, rep


@pytest.mark.parametrize("scheme", ["socks5", "auto"])
def test_socks5_udp_associate_goes_through_a_relay_udp_bind(procs, scheme):
    sp, lp = free_port(), free_port()
    relay_server(procs, sp)
    procs.relayd("-L", f"{scheme}://:{lp}?udp=true", "-F", f"relay://127.0.0.1:{sp}",
                 name="client")
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(10)
    ep = echo.getsockname()[1]
    c, rep = socks5_udp_associate(lp)
    assert rep[:4] == b"\x05\x00\x00\x01" and rep[4:8] == socket.inet_aton("127.0.0.1")
    relay_port = int.from_bytes(rep[8:10], "big")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(10)
    hdr = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + ep.to_bytes(2, "big")
    for i in range(5):
        payload = os.urandom(100 + i * 300)
        u.sendto(hdr + payload, ("127.0.0.1", relay_port))
        data, src = echo.recvfrom(65536)
        assert data == payload
        echo.sendto(data[::-1], src)
        back, _ = u.recvfrom(65536)
        assert back == hdr + payload[::-1]      # the source (the echo server) in the header
    c.close()


def test_socks5_udp_associate_is_not_allowed_without_udp_true(procs):
    sp, lp = free_port(), free_port()
    relay_server(procs, sp)
    procs.relayd("-L", f"socks5://:{lp}", "-F", f"relay://127.0.0.1:{sp}", name="client")
    c, rep = socks5_udp_associate(lp)
    assert rep[:2] == b"\x05\x02"
    c.close()


def test_socks5_udp_associate_fails_when_the_server_refuses_bind(procs):
    sp, lp = free_port(), free_port()
    procs.relayd("-L", f"relay://:{sp}", name="server")        # no bind=true
    procs.relayd("-L", f"socks5://:{lp}?udp=true", "-F", f"relay://127.0.0.1:{sp}",
                 name="client")
    c, rep = socks5_udp_associate(lp)
    assert rep[:2] == b"\x05\x01"                               # GOST: Failure
    c.close()


@pytest.mark.parametrize("version", [1, 2])
def test_rtcp_full_duplex_bulk_checks_every_byte(procs, version):
    from conftest import MiB, traffic
    n = 16 * MiB
    sp, bp = free_port(), free_port()
    procs.relayd("-L", f"relay://:{sp}?bind=true&mux.version={version}", name="server")
    srv = procs.traffic_server("xfer", "-n", n)
    procs.relayd("-L", f"rtcp://:{bp}/127.0.0.1:{srv.port}",
                 "-F", f"relay://127.0.0.1:{sp}?mux.version={version}", name="client")
    wait_for(lambda: port_open(bp), what="rtcp never bound")
    traffic("xfer", "-c", f"127.0.0.1:{bp}", "-n", n, "-x", n, "-j", 4, "-T", 120, timeout=180)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_rtcp_200_concurrent_connections_share_one_bind(procs):
    from conftest import traffic
    sp, bp = free_port(), free_port()
    server = procs.relayd("-L", f"relay://:{sp}?bind=true", name="server")
    srv = procs.traffic_server("xfer", "-n", 256 * 1024)
    procs.relayd("-L", f"rtcp://:{bp}/127.0.0.1:{srv.port}", "-F", f"relay://127.0.0.1:{sp}",
                 name="client")
    wait_for(lambda: port_open(bp), what="rtcp never bound")
    traffic("xfer", "-c", f"127.0.0.1:{bp}", "-n", 256 * 1024, "-x", 256 * 1024, "-j", 200,
            "-T", 120, timeout=180)
    # one BIND carried them all
    binds = [c for c in server.conns() if c["target"].startswith("bind ")]
    assert len(binds) == 1
    # the BIND, the 200, and the readiness probes
    assert server.status()["connections"]["accepted"] >= 1 + 200


@pytest.mark.parametrize("scheme", ["relay+tls", "relay+ws", "relay+wss"])
def test_rtcp_and_rudp_over_tls_and_websocket(procs, www, scheme, tmp_path):
    sp, bp, up = free_port(), free_port(), free_port()
    procs.relayd("-L", f"{scheme}://:{sp}?bind=true", name="server")
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(10)
    procs.relayd("-L", f"rtcp://:{bp}/127.0.0.1:{www.port}",
                 "-L", f"rudp://:{up}/127.0.0.1:{echo.getsockname()[1]}",
                 "-F", f"{scheme}://127.0.0.1:{sp}", name="client")
    wait_for(lambda: serves(bp), what="the rtcp BIND never served")
    names = sorted(www.sums)[:20]
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        assert dict(zip(names, ex.map(lambda n: fetch(bp, n), names))) == \
            {n: www.sums[n] for n in names}
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)

    def roundtrip():
        u.sendto(b"ping", ("127.0.0.1", up))
        try:
            data, src = echo.recvfrom(100)
        except socket.timeout:
            return False
        echo.sendto(data + b"-pong", src)
        try:
            return u.recvfrom(100)[0] == b"ping-pong"
        except socket.timeout:
            return False

    assert wait_for(roundtrip, what="no datagram through rudp")

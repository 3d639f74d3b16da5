"""The relay client (GOST's connector) with real peers: curl through the auto
handler as HTTP proxy, socks5h and socks4a; port forwarding with iperf3; a
target that speaks first; refusals and resets; the same listeners direct."""
import hashlib
import json
import os
import socket
import subprocess
import time

import pytest

import relaywire as rw
from conftest import BIG, MiB, free_port, have, server_lines, traffic
from targets import Target, closed_port


@pytest.fixture
def web(tmp_path):
    """A local HTTP server (python's http.server) with a few files."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello from the origin\n")
    big = os.urandom(8 * MiB)
    (root / "big.bin").write_bytes(big)
    port = free_port()
    p = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1",
                          str(port)], cwd=root, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield {"port": port, "big_sha": hashlib.sha256(big).hexdigest()}
    p.terminate()
    p.wait()


def chain(procs, client_L, server_url="relay://user:pass@:{port}",
          forward_url="relay://user:pass@127.0.0.1:{port}"):
    sport = free_port()
    server = procs.relayd("-L", server_url.format(port=sport), name="server")
    client = procs.relayd("-L", client_L, "-F", forward_url.format(port=sport), name="client")
    return server, client


def curl(*args, check=True):
    r = subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True,
                       timeout=60)
    if check:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


@pytest.mark.parametrize("proxy", ["http", "socks5h", "socks4a"])
def test_curl_through_the_auto_listener_and_the_relay_chain(procs, web, proxy):
    lport = free_port()
    server, client = chain(procs, f":{lport}")
    url = f"http://127.0.0.1:{web['port']}"
    if proxy == "socks4a":
        url = f"http://localhost:{web['port']}"
    r = curl("-x", f"{proxy}://127.0.0.1:{lport}", f"{url}/hello.txt")
    assert r.stdout == b"hello from the origin\n"
    r = curl("-x", f"{proxy}://127.0.0.1:{lport}", f"{url}/big.bin")
    assert hashlib.sha256(r.stdout).hexdigest() == web["big_sha"]
    for rd in (client, server):
        rd.wait_idle()


def test_curl_http_connect_tunnel(procs, web):
    lport = free_port()
    chain(procs, f":{lport}")
    r = curl("-p", "-x", f"http://127.0.0.1:{lport}", f"http://127.0.0.1:{web['port']}/big.bin")
    assert hashlib.sha256(r.stdout).hexdigest() == web["big_sha"]


def test_wrong_relay_password_fails_and_server_says_unauthorized(procs, web):
    lport = free_port()
    server, client = chain(procs, f":{lport}",
                           forward_url="relay://user:WRONG@127.0.0.1:{port}")
    r = curl("-x", f"socks5h://127.0.0.1:{lport}", f"http://127.0.0.1:{web['port']}/hello.txt",
             check=False)
    assert r.returncode != 0
    assert r.stdout == b""
    time.sleep(0.2)
    assert "authentication failed for user 'user'" in server.text()
    assert "2 Unauthorized" in client.text()


def test_listener_users_for_socks5_and_http(procs, web):
    lport = free_port()
    chain(procs, f"alice:pw@:{lport}")
    url = f"http://127.0.0.1:{web['port']}/hello.txt"
    assert curl("-x", f"socks5h://alice:pw@127.0.0.1:{lport}", url).stdout.startswith(b"hello")
    assert curl("-x", f"http://alice:pw@127.0.0.1:{lport}", url).stdout.startswith(b"hello")
    assert curl("-x", f"socks5h://alice:bad@127.0.0.1:{lport}", url, check=False).returncode != 0
    r = curl("-i", "-x", f"http://127.0.0.1:{lport}", url, check=False)
    assert b"407 Proxy Authentication Required" in r.stdout
    assert b'Proxy-Authenticate: Basic realm="gost"' in r.stdout


@pytest.mark.parametrize("nodelay", ["false", "true"])
def test_tcp_forward_through_the_chain(procs, nodelay):
    srv = procs.traffic_server("xfer", "-n", BIG // 4)
    lport = free_port()
    chain(procs, f"tcp://:{lport}/127.0.0.1:{srv.port}",
          forward_url="relay://user:pass@127.0.0.1:{port}?nodelay=" + nodelay)
    traffic("xfer", "-c", f"127.0.0.1:{lport}", "-n", BIG // 4, "-x", BIG // 4)
    assert " done rx=%d ok tx=%d" % (BIG // 4, BIG // 4) in server_lines(srv, 1)[0]


def test_target_that_speaks_first_with_nodelay_both_ends(procs):
    banner = Target("banner")
    try:
        lport = free_port()
        chain(procs, f"tcp://:{lport}/127.0.0.1:{banner.port}",
              server_url="relay://user:pass@:{port}?nodelay=true",
              forward_url="relay://user:pass@127.0.0.1:{port}?nodelay=true")
        s = socket.create_connection(("127.0.0.1", lport), timeout=10)
        # nothing sent: the banner must arrive anyway
        assert rw.recv_exact(s, len(b"HELLO-FROM-TARGET\r\n")) == b"HELLO-FROM-TARGET\r\n"
        s.sendall(b"echo me")
        assert rw.recv_exact(s, 7) == b"echo me"
        s.close()
    finally:
        banner.close()


def test_target_that_refuses(procs):
    lport = free_port()
    server, client = chain(procs, f"tcp://:{lport}/127.0.0.1:{closed_port()}")
    s = socket.create_connection(("127.0.0.1", lport), timeout=10)
    s.sendall(b"anyone there?")
    assert rw.read_all(s) == b""
    s.close()
    time.sleep(0.2)
    assert "status 7 Network Unreachable" in server.text()
    assert "7 Network Unreachable" in client.text()


def test_peer_reset_mid_transfer(procs):
    srv = procs.traffic_server("rst", "-a", 8 * MiB)
    lport = free_port()
    server, client = chain(procs, f"tcp://:{lport}/127.0.0.1:{srv.port}")
    rc, out = traffic("rst", "-c", f"127.0.0.1:{lport}", "-n", 128 * MiB, "--expect-reset")
    assert "reset=received" in out
    # other connections keep flowing
    echo = Target("echo")
    try:
        lport2 = free_port()
        sport = int(server.status()["services"][0]["listen"].rsplit(":", 1)[1])
        procs.relayd("-L", f"tcp://:{lport2}/127.0.0.1:{echo.port}", "-F",
                     f"relay://user:pass@127.0.0.1:{sport}", name="client2")
        s = socket.create_connection(("127.0.0.1", lport2), timeout=10)
        s.sendall(b"alive")
        assert rw.recv_exact(s, 5) == b"alive"
        s.close()
    finally:
        echo.close()
    client.wait_idle()
    server.wait_idle()


@pytest.mark.skipif(not have("iperf3"), reason="iperf3 not installed")
@pytest.mark.parametrize("via", ["direct", "chain"])
def test_iperf3_through_a_tcp_forward(procs, via):
    iport = free_port()
    ip = procs.proc(["iperf3", "-s", "-p", iport, "-B", "127.0.0.1", "--forceflush"], "iperf3-server")
    deadline = time.monotonic() + 10
    while "Server listening" not in ip.text():
        assert time.monotonic() < deadline, ip.text()
        time.sleep(0.05)
    lport = free_port()
    if via == "direct":
        procs.relayd("-L", f"tcp://:{lport}/127.0.0.1:{iport}", name="fwd")
    else:
        chain(procs, f"tcp://:{lport}/127.0.0.1:{iport}")
    for extra in ([], ["-R"]):
        r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(lport), "-t", "2", "-J",
                            *extra], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        res = json.loads(r.stdout)
        assert res["end"]["sum_received"]["bytes"] > 0


@pytest.mark.parametrize("proxy", ["http", "socks5h", "socks4a"])
def test_auto_listener_without_a_chain_dials_directly(procs, web, proxy):
    lport = free_port()
    procs.relayd("-L", f":{lport}", name="direct")
    host = "localhost" if proxy == "socks4a" else "127.0.0.1"
    r = curl("-x", f"{proxy}://127.0.0.1:{lport}", f"http://{host}:{web['port']}/hello.txt")
    assert r.stdout == b"hello from the origin\n"


def test_tcp_forward_without_a_chain(procs):
    srv = procs.traffic_server("xfer", "-n", 16 * MiB)
    lport = free_port()
    procs.relayd("-L", f"tcp://:{lport}/127.0.0.1:{srv.port}", name="direct")
    traffic("xfer", "-c", f"127.0.0.1:{lport}", "-n", 16 * MiB, "-x", 16 * MiB)


def test_forward_without_target_uses_the_servers_target(procs):
    echo = Target("echo")
    try:
        sport, lport = free_port(), free_port()
        procs.relayd("-L", f"relay://:{sport}/127.0.0.1:{echo.port}", name="server")
        procs.relayd("-L", f"tcp://:{lport}", "-F", f"relay://127.0.0.1:{sport}", name="client")
        s = socket.create_connection(("127.0.0.1", lport), timeout=10)
        s.sendall(b"to whatever the server says")
        assert rw.recv_exact(s, 27) == b"to whatever the server says"
        s.close()
    finally:
        echo.close()

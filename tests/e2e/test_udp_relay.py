"""UDP over relay, both ends: the server's UDP CONNECT against hand-built GOST
requests, relayd's own client (-L udp://... -F relay://...), server-side
forwarding for UDP and TCP, forwarder node selection, relayctl's view of UDP
sessions, and bad input.  Real peers: dnsmasq answered by dig, and a UDP echo."""
import json
import os
import random
import socket
import subprocess

import pytest

import relaywire as rw
from conftest import RELAYCTL, free_port, have, wait_for
from targets import Target
from udp_peers import UdpEcho, closed_udp_port, dig, dnsmasq, frame, read_frame

pytestmark = pytest.mark.skipif(not (have("dig") and (have("dnsmasq") or
                                                      os.path.exists("/usr/sbin/dnsmasq"))),
                                reason="needs dig and dnsmasq (make deps)")


@pytest.fixture
def echo():
    e = UdpEcho()
    yield e
    e.close()


def free_udp_port():
    while True:
        p = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue


def udp_connect_req(host, port):
    """What GOST's connector sends for a UDP target: FUDP and NETWORK(udp)."""
    return rw.request(rw.CONNECT | rw.FUDP, rw.network(1), rw.addr(host, port))


def relay_server(procs, target="", query="", name=None):
    port = free_port()
    url = f"relay://:{port}" + (f"/{target}" if target else "") + (f"?{query}" if query else "")
    r = procs.relayd("-L", url, name=name or "server")
    r.port = port
    return r


def udp_client(procs, server_port, target="", query="", extra=(), name="client"):
    port = free_udp_port()
    url = f"udp://:{port}" + (f"/{target}" if target else "") + (f"?{query}" if query else "")
    c = procs.relayd("-L", url, *extra, "-F", f"relay://127.0.0.1:{server_port}", name=name)
    c.port = port
    return c


def udp_sock(timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    s.settimeout(timeout)
    return s


def udp_ask(s, port, dg, tries=20, host="127.0.0.1"):
    """Send dg until it comes back (UDP may drop it while a flood drains)."""
    s.settimeout(1)
    for _ in range(tries):
        s.sendto(dg, (host, port))
        try:
            while s.recv(65536) != dg:      # older datagrams still on their way
                pass
            return True
        except socket.timeout:
            continue
    return False


def ask_once(s, port, dg, host="127.0.0.1"):
    s.settimeout(10)
    s.sendto(dg, (host, port))
    return s.recv(65536) == dg


def log_has(p, text, timeout=10):
    return wait_for(lambda: text in p.text(), timeout, f"{p.name} never logged {text!r}:\n"
                    f"{p.text()[-3000:]}")


# ---- the server: UDP CONNECT ------------------------------------------------

def test_server_udp_connect_relays_frames_with_held_ok(procs, echo):
    r = relay_server(procs)
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("127.0.0.1", echo.port) + frame(b"hello"))
    # nodelay=false: the OK rides on the first frame back, in the same write
    assert rw.recv_exact(s, 11) == b"\x01\x00\x00\x00\x00\x05hello"
    big = os.urandom(65507)
    for dg in (big, b"", b"x", os.urandom(1400)):
        s.sendall(frame(dg))
        assert read_frame(s) == dg
    s.close()
    r.wait_idle()


def test_server_udp_connect_nodelay_true_answers_at_once(procs, echo):
    r = relay_server(procs, query="nodelay=true")
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("127.0.0.1", echo.port))
    assert rw.recv_exact(s, 4) == b"\x01\x00\x00\x00"
    s.sendall(frame(b"abc") + frame(b"de"))
    assert read_frame(s) == b"abc"
    assert read_frame(s) == b"de"
    s.close()
    r.wait_idle()


def test_fudp_flag_alone_and_network_alone_both_mean_udp(procs, echo):
    r = relay_server(procs)
    for req in (rw.request(rw.CONNECT | rw.FUDP, rw.addr("127.0.0.1", echo.port)),
                rw.request(rw.CONNECT, rw.network(1), rw.addr("127.0.0.1", echo.port))):
        s = rw.connect(r.port)
        s.sendall(req + frame(b"ping"))
        assert rw.recv_exact(s, 10) == b"\x01\x00\x00\x00\x00\x04ping"
        s.close()
    r.wait_idle()


def test_server_relays_a_burst_of_frames_in_one_write(procs):
    # more frames than one pass of the pump takes, to a target that never
    # answers: the rest are already read into relayd, so no socket readiness
    # would bring the pump back for them
    sink = UdpEcho(reply=False)
    try:
        r = relay_server(procs, query="nodelay=true")
        s = rw.connect(r.port)
        dgs = [b"burst-%03d" % i for i in range(300)]
        s.sendall(udp_connect_req("127.0.0.1", sink.port) + b"".join(frame(d) for d in dgs))
        assert rw.recv_exact(s, 4) == b"\x01\x00\x00\x00"
        wait_for(lambda: sink.count >= len(dgs), 10, "the target did not get all 300")
        assert sink.count == len(dgs)
        s.close()
        r.wait_idle()
    finally:
        sink.close()


# ---- relayd's client through relayd's server -----------------------------

def test_dig_through_client_naming_the_target(procs):
    dns = free_udp_port()
    dnsmasq(procs, dns)
    r = relay_server(procs)
    c = udp_client(procs, r.port, target=f"127.0.0.1:{dns}")
    for _ in range(3):
        assert dig(c.port) == "1.2.3.4"
    # keepalive=false (GOST's default): each answer ends its relay connection
    r.wait_idle()
    c.wait_idle()
    assert r.text().count(f">-< 127.0.0.1:{dns}") == 3


def test_echo_10000_datagrams_of_random_sizes_intact(procs, echo):
    r = relay_server(procs)
    c = udp_client(procs, r.port, target=f"127.0.0.1:{echo.port}", query="keepalive=true&ttl=30s")
    rnd = random.Random(1234)
    s = udp_sock()
    n = 10000
    sent_bytes = 0
    for i in range(n):
        size = rnd.randint(1, 65507)
        dg = rnd.randbytes(size)
        s.sendto(dg, ("127.0.0.1", c.port))
        got = s.recv(65536)
        assert got == dg, f"datagram {i}: sent {size} bytes, got {len(got)} back"
        sent_bytes += size
    # one session (one relay connection) carried all of them
    conns = c.conns()
    assert len(conns) == 1
    assert conns[0]["datagrams_up"] == n and conns[0]["datagrams_down"] == n
    assert conns[0]["bytes_up"] == sent_bytes == conns[0]["bytes_down"]
    s.close()


def test_keepalive_session_ends_after_ttl(procs, echo):
    r = relay_server(procs)
    c = udp_client(procs, r.port, target=f"127.0.0.1:{echo.port}", query="keepalive=true&ttl=1s")
    s = udp_sock()
    s.sendto(b"one", ("127.0.0.1", c.port))
    assert s.recv(100) == b"one"
    s.sendto(b"two", ("127.0.0.1", c.port))
    assert s.recv(100) == b"two"
    assert len(c.conns()) == 1 and len(r.conns()) == 1
    # idle for the ttl: both ends of the relay connection go away
    c.wait_idle()
    r.wait_idle()
    assert "idle for 1000 ms (ttl)" in c.text()
    # the next datagram opens a new session
    s.sendto(b"three", ("127.0.0.1", c.port))
    assert s.recv(100) == b"three"
    s.close()


# ---- relayctl --------------------------------------------------------------

def test_relayctl_shows_udp_sessions(procs, echo):
    r = relay_server(procs)
    c = udp_client(procs, r.port, target=f"127.0.0.1:{echo.port}", query="keepalive=true&ttl=60s")
    s = udp_sock()
    for dg in (b"a" * 10, b"b" * 20, b"c" * 30):
        s.sendto(dg, ("127.0.0.1", c.port))
        assert s.recv(100) == dg
    (conn,) = c.conns()
    assert conn["proto"] == "udp"
    assert conn["client"] == "127.0.0.1:%d" % s.getsockname()[1]
    assert conn["target"] == f"127.0.0.1:{echo.port}"
    assert (conn["datagrams_up"], conn["datagrams_down"]) == (3, 3)
    assert (conn["bytes_up"], conn["bytes_down"]) == (60, 60)
    assert conn["idle_ms"] >= 0
    (srv,) = r.conns()
    assert (srv["datagrams_up"], srv["datagrams_down"]) == (3, 3)
    out = subprocess.run([str(RELAYCTL), "--ctl", str(c.ctl), "conns"], capture_output=True,
                         text=True, timeout=10).stdout
    assert "UDP sessions:" in out and "DGRAMS-UP" in out and "IDLE" in out
    line = [l for l in out.splitlines()[out.splitlines().index("UDP sessions:") + 2:]
            if l.startswith(str(conn["id"]))][0]
    assert f"127.0.0.1:{echo.port}" in line and " 3 " in line
    s.close()


# ---- server-side forwarding, node selection ---------------------------------

def test_server_forwarding_udp_and_tcp_with_clients_naming_no_target(procs):
    dns = free_udp_port()
    dnsmasq(procs, dns)
    r = relay_server(procs, target=f"127.0.0.1:{dns}")
    tcp_port = free_port()
    c = udp_client(procs, r.port, extra=("-L", f"tcp://:{tcp_port}"))
    assert dig(c.port) == "1.2.3.4"
    assert dig(tcp_port, tcp=True) == "1.2.3.4"
    assert dig(c.port, name="again.example.test") == "1.2.3.4"
    r.wait_idle()


def test_server_forwarding_ignores_the_client_udp_target(procs, echo):
    r = relay_server(procs, target=f"127.0.0.1:{echo.port}")
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("192.0.2.1", 9) + frame(b"fwd"))
    assert rw.recv_exact(s, 9) == b"\x01\x00\x00\x00\x00\x03fwd"
    s.close()
    # what GOST's client sends without a target: ADDR ":0"
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("", 0) + frame(b"zero"))
    assert rw.recv_exact(s, 10) == b"\x01\x00\x00\x00\x00\x04zero"
    s.close()
    r.wait_idle()


def test_server_forward_nodes_round_robin(procs):
    e1, e2 = UdpEcho(), UdpEcho()
    try:
        r = relay_server(procs, target=f"127.0.0.1:{e1.port},127.0.0.1:{e2.port}")
        c = udp_client(procs, r.port)
        for i in range(4):
            s = udp_sock()      # a new client address: a new relay connection
            s.sendto(b"rr%d" % i, ("127.0.0.1", c.port))
            assert s.recv(100) == b"rr%d" % i
            s.close()
        assert (e1.count, e2.count) == (2, 2)
    finally:
        e1.close()
        e2.close()


def test_failed_forward_node_is_skipped_then_none_left(procs, echo):
    # a UDP dial to the broadcast address fails (EACCES without SO_BROADCAST)
    r = relay_server(procs, target=f"255.255.255.255:53,127.0.0.1:{echo.port}")
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("", 0) + frame(b"x"))
    assert rw.read_all(s) == b"\x01\x06\x00\x00"         # Host Unreachable
    s.close()
    for i in range(3):          # the failed node is skipped for the next ones
        s = rw.connect(r.port)
        s.sendall(udp_connect_req("", 0) + frame(b"ok%d" % i))
        assert rw.recv_exact(s, 9) == b"\x01\x00\x00\x00\x00\x03ok%d" % i
        s.close()
    assert echo.count == 3
    log_has(r, "255.255.255.255:53")
    bad = relay_server(procs, target="255.255.255.255:53,255.255.255.255:54", name="bad")
    for want in (b"\x01\x06\x00\x00", b"\x01\x06\x00\x00", b"\x01\x05\x00\x00"):
        s = rw.connect(bad.port)
        s.sendall(udp_connect_req("", 0) + frame(b"x"))
        assert rw.read_all(s) == want    # then Service Unavailable: no node left
        s.close()
    log_has(bad, "forward: no target node available")


def test_direct_udp_forwarding_round_robins_client_side_nodes(procs):
    e1, e2 = UdpEcho(), UdpEcho()
    try:
        port = free_udp_port()
        procs.relayd("-L", f"udp://:{port}/127.0.0.1:{e1.port},127.0.0.1:{e2.port}",
                     name="direct")
        for i in range(4):
            s = udp_sock()
            s.sendto(b"d%d" % i, ("127.0.0.1", port))
            assert s.recv(100) == b"d%d" % i
            s.close()
        assert (e1.count, e2.count) == (2, 2)
    finally:
        e1.close()
        e2.close()


# ---- bad input ------------------------------------------------------------

def good_session(port, echo):
    s = rw.connect(port)
    s.sendall(udp_connect_req("127.0.0.1", echo.port) + frame(b"good"))
    assert rw.recv_exact(s, 10) == b"\x01\x00\x00\x00\x00\x04good"
    return s


def still_good(s, n=5):
    for i in range(n):
        dg = b"still-%d" % i
        s.sendall(frame(dg))
        assert read_frame(s) == dg


def test_truncated_frame_ends_only_that_session(procs, echo):
    r = relay_server(procs)
    good = good_session(r.port, echo)
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("127.0.0.1", echo.port) + b"\x00\x64" + b"0123456789")
    s.shutdown(socket.SHUT_WR)
    assert rw.read_all(s) == b""        # nothing was relayed: no OK, then the close
    s.close()
    log_has(r, "client: stream ended inside a frame (truncated datagram)")
    still_good(good)
    good.close()
    r.wait_idle()


def test_datagram_too_large_for_the_target_is_dropped_and_logged(procs, echo):
    r = relay_server(procs)
    good = good_session(r.port, echo)
    # 65535 bytes fit a frame but not an IPv4 UDP datagram (65507)
    good.sendall(frame(b"\xab" * 65535) + frame(b"after"))
    assert read_frame(good) == b"after"
    log_has(r, "dropped 1 datagram too large for the target's network")
    still_good(good)
    good.close()
    r.wait_idle()


def test_unreachable_target_ends_its_session_with_a_log_line(procs, echo):
    r = relay_server(procs)
    good = good_session(r.port, echo)
    dead = closed_udp_port()
    s = rw.connect(r.port)
    s.sendall(udp_connect_req("127.0.0.1", dead) + frame(b"anyone?"))
    # the port unreachable ends the session; with nodelay=false no OK was sent
    assert rw.read_all(s) == b""
    s.close()
    log_has(r, "target: Connection refused")
    still_good(good)
    good.close()
    # through relayd's client the same session ends on both ends, logged
    c = udp_client(procs, r.port, target=f"127.0.0.1:{dead}")
    u = udp_sock(timeout=1)
    u.sendto(b"anyone?", ("127.0.0.1", c.port))
    with pytest.raises(socket.timeout):
        u.recv(100)
    c.wait_idle()
    log_has(c, "target: EOF")
    u.close()
    r.wait_idle()


def test_flood_from_one_client_disturbs_nobody_else(procs, echo):
    # the calm client has its own target: a flood that saturates a shared
    # target would drop the calm datagrams there, outside relayd
    calm_echo, tcp_echo = UdpEcho(), Target("echo")
    try:
        r = relay_server(procs)
        tcp_port, calm_port = free_port(), free_udp_port()
        c = udp_client(procs, r.port, target=f"127.0.0.1:{echo.port}",
                       query="keepalive=true&ttl=30s&readQueueSize=4",
                       extra=("-L", f"udp://:{calm_port}/127.0.0.1:{calm_echo.port}"
                                    "?keepalive=true&ttl=30s",
                              "-L", f"tcp://:{tcp_port}/127.0.0.1:{tcp_echo.port}"))
        calm = udp_sock()
        t = socket.create_connection(("127.0.0.1", tcp_port), timeout=10)
        flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flood.bind(("127.0.0.1", 0))
        # far more than relayd can carry: drops in relayd's queue or in the
        # listening socket's buffer, both logged
        payload = b"F" * 60000
        for i in range(6000):
            flood.sendto(payload, ("127.0.0.1", c.port))
            if i % 200 == 0:    # a calm UDP client and a TCP connection keep working
                calm.sendto(b"calm%d" % i, ("127.0.0.1", calm_port))
                assert calm.recv(100) == b"calm%d" % i
                t.sendall(b"tcp%d" % i)
                assert rw.recv_exact(t, len(b"tcp%d" % i)) == b"tcp%d" % i
        wait_for(lambda: "a client's queue is full" in c.text() or
                 "the listening socket's buffer was full" in c.text(), 10,
                 f"no drop was logged:\n{c.text()[-3000:]}")
        # the flooder's own session survives it
        assert udp_ask(flood, c.port, b"done")
        assert [x["client"] for x in c.conns() if x["proto"] == "udp"].count(
            "127.0.0.1:%d" % flood.getsockname()[1]) == 1
        flood.close()
        calm.close()
        t.close()
    finally:
        calm_echo.close()
        tcp_echo.close()


# ---- reload, kill, IPv6 ------------------------------------------------------

def test_udp_service_survives_reload_kill_and_serves_ipv6(procs, echo, tmp_path):
    port = free_udp_port()
    cfg = tmp_path / "relayd.json"

    def write(extra):
        cfg.write_text(json.dumps({"services": [
            {"name": "dns", "addr": f":{port}", "handler": {"type": "udp"},
             "listener": {"type": "udp", "metadata": {"keepalive": True, "ttl": "60s"}},
             "forwarder": {"nodes": [{"name": "echo", "addr": f"127.0.0.1:{echo.port}"}]}},
            *extra]}))
    write([])
    r = procs.relayd("-C", cfg, name="udpsvc")
    a = udp_sock()
    assert ask_once(a, port, b"a1")
    write([{"name": "tcp", "addr": f":{free_port()}", "handler": {"type": "relay"},
            "listener": {"type": "tcp"}}])
    r.ctl_cmd("reload")
    assert [s["name"] for s in r.ctl_cmd("services")["services"]] == ["dns", "tcp"]
    # the socket was kept: the old session and new clients are both served
    assert ask_once(a, port, b"a2")
    b = udp_sock()
    assert ask_once(b, port, b"b1")
    ids = [x["id"] for x in r.conns() if x["client"] == "127.0.0.1:%d" % a.getsockname()[1]]
    assert ids
    for i in ids:
        r.ctl_cmd("kill", i)
    wait_for(lambda: not [x for x in r.conns() if x["id"] in ids], 10, "killed sessions remain")
    assert ask_once(a, port, b"a3")      # a new session for the same address
    six = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    six.bind(("::1", 0))
    assert ask_once(six, port, b"over v6", host="::1")
    assert "[::1]:%d" % six.getsockname()[1] in [x["client"] for x in r.conns()]
    for s in (a, b, six):
        s.close()


@pytest.mark.parametrize("transport", ["tls", "ws", "wss"])
def test_udp_over_each_data_channel(procs, echo, transport):
    port = free_port()
    r = procs.relayd("-L", f"relay+{transport}://:{port}", name="server")
    lport = free_udp_port()
    c = procs.relayd("-L", f"udp://:{lport}/127.0.0.1:{echo.port}?keepalive=true&ttl=30s", "-F",
                     f"relay+{transport}://127.0.0.1:{port}", name="client")
    s = udp_sock()
    rnd = random.Random(7)
    for size in (1, 1400, 65507, 0, 9000):
        dg = rnd.randbytes(size)
        assert ask_once(s, lport, dg), f"{size}-byte datagram over relay+{transport}"
    conns = c.conns()
    assert len(conns) == 1 and conns[0]["datagrams_down"] == 5
    assert f"{transport}>tcp" in conns[0]["stack"]
    s.close()
    c.stop()
    r.wait_idle()

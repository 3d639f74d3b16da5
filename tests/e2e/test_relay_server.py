"""The relay server against hand-built GOST relay requests: CONNECT to IPv4,
IPv6 and domain targets, authentication, every failure answered (or not) as
GOST answers it, the header deadline, and nodelay timing."""
import os
import socket
import subprocess
import time

import pytest

import relaywire as rw
from conftest import free_port
from targets import Target, closed_port


@pytest.fixture
def echo():
    t = Target("echo")
    yield t
    t.close()


def relay_server(procs, *extra, url="relay://:{port}", **kw):
    port = free_port()
    r = procs.relayd("-L", url.format(port=port) + ("?" + "&".join(extra) if extra else ""), **kw)
    r.port = port
    return r


def roundtrip(port, req, payload=b"ping"):
    s = rw.connect(port)
    s.sendall(req + payload)
    resp = rw.recv_exact(s, 4)
    return s, resp


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_connect_reaches_ipv4_ipv6_and_domain_targets(procs, host):
    t = Target("echo", host="::1" if host == "::1" else "127.0.0.1")
    try:
        r = relay_server(procs)
        s, resp = roundtrip(r.port, rw.request(rw.CONNECT, rw.addr(host, t.port)), b"hello")
        assert resp == b"\x01\x00\x00\x00"
        assert rw.recv_exact(s, 5) == b"hello"
        s.close()
    finally:
        t.close()


def test_connect_with_right_password_works_wrong_gets_unauthorized(procs, echo):
    r = relay_server(procs, url="relay://alice:s3cret@:{port}")
    s, resp = roundtrip(r.port, rw.request(rw.CONNECT, rw.user_auth("alice", "s3cret"),
                                           rw.addr("127.0.0.1", echo.port)))
    assert resp == b"\x01\x00\x00\x00"
    assert rw.recv_exact(s, 4) == b"ping"
    s.close()
    for feats in ([rw.user_auth("alice", "wrong")], [rw.user_auth("bob", "s3cret")], []):
        s = rw.connect(r.port)
        s.sendall(rw.request(rw.CONNECT, *feats, rw.addr("127.0.0.1", echo.port)) + b"data")
        assert rw.read_all(s) == b"\x01\x02\x00\x00"
        s.close()
    assert "authentication failed" in r.text()


def test_no_authenticator_ignores_credentials(procs, echo):
    r = relay_server(procs)
    s, resp = roundtrip(r.port, rw.request(rw.CONNECT, rw.user_auth("who", "ever"),
                                           rw.addr("127.0.0.1", echo.port)))
    assert resp == b"\x01\x00\x00\x00"
    s.close()


def test_users_from_config_authers_and_auth_file(procs, echo, tmp_path):
    authfile = tmp_path / "users.txt"
    authfile.write_text("# GOST auth file\nfile-user file-pass\n\nany-pass-user\n")
    cfg = tmp_path / "relayd.json"
    port = free_port()
    cfg.write_text(f"""{{
      "services": [{{"name": "relay", "addr": ":{port}",
        "handler": {{"type": "relay", "authers": ["inline", "fromfile"]}},
        "listener": {{"type": "tcp"}}}}],
      "authers": [
        {{"name": "inline", "auths": [{{"username": "inline-user", "password": "inline-pass"}}]}},
        {{"name": "fromfile", "file": {{"path": "{authfile}"}}}}]
    }}""")
    r = procs.relayd("-C", cfg)
    ok = [("inline-user", "inline-pass"), ("file-user", "file-pass"), ("any-pass-user", "x")]
    for user, pw in ok:
        s, resp = roundtrip(port, rw.request(rw.CONNECT, rw.user_auth(user, pw),
                                             rw.addr("127.0.0.1", echo.port)))
        assert resp == b"\x01\x00\x00\x00", (user, pw)
        s.close()
    s, resp = roundtrip(port, rw.request(rw.CONNECT, rw.user_auth("file-user", "nope"),
                                         rw.addr("127.0.0.1", echo.port)))
    assert resp == b"\x01\x02\x00\x00"
    s.close()
    r.wait_idle()


@pytest.mark.parametrize("raw,why", [
    (b"\x02\x01\x00\x00", "bad version"),
    (b"\x00\x01\x00\x00", "bad version"),
    (b"\x01\x01\x00\x06\x02\x00\x0a\xab\xcd\xef", "feature runs past FLEN"),
    (b"\x01\x01\x00\x04\x01\x00\x01\x00", "short USER_AUTH"),
    (b"\x01\x01\x00\x07\x02\x00\x04\x02\x00\x00\x00", "bad address type"),
])
def test_malformed_requests_are_closed_silently(procs, raw, why):
    r = relay_server(procs)
    s = rw.connect(r.port)
    s.sendall(raw)
    assert rw.read_all(s) == b"", why
    s.close()
    assert "bad request" in r.text()


def test_unknown_feature_is_tolerated(procs, echo):
    r = relay_server(procs)
    s, resp = roundtrip(r.port, rw.request(rw.CONNECT, rw.feat(0x09, b"\xde\xad"),
                                           rw.addr("127.0.0.1", echo.port)))
    assert resp == b"\x01\x00\x00\x00"
    s.close()


@pytest.mark.parametrize("req,status", [
    (rw.request(rw.CONNECT), 1),                                   # no target
    (rw.request(0x03, rw.addr("127.0.0.1", 80)), 1),               # ASSOCIATE
    (rw.request(0x0f, rw.addr("127.0.0.1", 80)), 1),               # unknown command
    (rw.request(rw.BIND, rw.addr("0.0.0.0", 0)), 3),               # BIND without bind=true
])
def test_refusals_get_gost_status_codes(procs, req, status):
    r = relay_server(procs)
    s = rw.connect(r.port)
    s.sendall(req)
    assert rw.read_all(s) == bytes([1, status, 0, 0])
    s.close()


def test_command_zero_is_connect_and_flags_bits_are_ignored(procs, echo):
    r = relay_server(procs)
    for cmd in (0x00, 0x71):
        s, resp = roundtrip(r.port, rw.request(cmd, rw.addr("127.0.0.1", echo.port)))
        assert resp == b"\x01\x00\x00\x00"
        s.close()


def test_refused_target_gets_network_unreachable(procs):
    r = relay_server(procs)
    s = rw.connect(r.port)
    s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", closed_port())))
    assert rw.read_all(s) == b"\x01\x07\x00\x00"
    s.close()
    assert "connection refused" in r.text().lower()


def test_header_read_deadline_closes_silently(procs):
    r = relay_server(procs, "readTimeout=1s")
    s = rw.connect(r.port)
    s.sendall(b"\x01\x01\x00\x10")        # promises 16 feature bytes, sends none
    assert rw.read_all(s, timeout=20) == b""
    s.close()
    assert "timeout" in r.text()


def test_nodelay_false_holds_the_response_until_target_data(procs):
    silent = Target("silent")
    try:
        r = relay_server(procs)
        s = rw.connect(r.port)
        s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", silent.port)) + b"x")
        s.shutdown(socket.SHUT_WR)
        # the target closes without a word: GOST's client reads EOF, never a status
        assert rw.read_all(s) == b""
        s.close()
    finally:
        silent.close()


def test_nodelay_true_sends_the_response_at_once(procs):
    silent = Target("silent")
    try:
        r = relay_server(procs, "nodelay=true")
        s = rw.connect(r.port)
        s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", silent.port)))
        assert rw.recv_exact(s, 4) == b"\x01\x00\x00\x00"
        s.close()
    finally:
        silent.close()


def test_target_that_speaks_first_with_nodelay(procs):
    banner = Target("banner")
    try:
        r = relay_server(procs, "nodelay=true")
        s = rw.connect(r.port)
        s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", banner.port)))
        got = rw.recv_exact(s, 4 + len(b"HELLO-FROM-TARGET\r\n"))
        assert got == b"\x01\x00\x00\x00HELLO-FROM-TARGET\r\n"
        s.close()
    finally:
        banner.close()


def test_forward_mode_ignores_the_client_target(procs, echo):
    port = free_port()
    r = procs.relayd("-L", f"relay://:{port}/127.0.0.1:{echo.port}")
    # the client asks for somewhere else; the server dials its own target
    s, resp = roundtrip(port, rw.request(rw.CONNECT, rw.addr("192.0.2.1", 9)), b"fwd")
    assert resp == b"\x01\x00\x00\x00"
    assert rw.recv_exact(s, 3) == b"fwd"
    s.close()
    # GOST's client for "-L tcp://:2222 -F relay://" sends ADDR ":0"
    s, resp = roundtrip(port, rw.request(rw.CONNECT, rw.addr("", 0)), b"zero")
    assert resp == b"\x01\x00\x00\x00"
    s.close()
    r.wait_idle()


def test_forward_mode_dial_failure_is_host_unreachable(procs):
    port = free_port()
    procs.relayd("-L", f"relay://:{port}/127.0.0.1:{closed_port()}")
    s = rw.connect(port)
    s.sendall(rw.request(rw.CONNECT))
    assert rw.read_all(s) == b"\x01\x06\x00\x00"
    s.close()


def test_skipauth_lets_listed_clients_in(procs, echo):
    r = relay_server(procs, "skipauth=127.0.0.1", url="relay://u:p@:{port}")
    s, resp = roundtrip(r.port, rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port)))
    assert resp == b"\x01\x00\x00\x00"
    s.close()


def test_bad_input_does_not_disturb_other_connections(procs, echo):
    r = relay_server(procs)
    good, resp = roundtrip(r.port, rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port)))
    assert resp == b"\x01\x00\x00\x00"
    assert rw.recv_exact(good, 4) == b"ping"
    for raw in (b"\xff" * 100, b"\x01\x01\xff\xff" + b"\x00" * 10, b""):
        s = rw.connect(r.port)
        s.sendall(raw)
        s.close()
    for i in range(20):
        good.sendall(b"still-here-%d" % i)
        assert rw.recv_exact(good, len(b"still-here-%d" % i)) == b"still-here-%d" % i
    good.close()
    time.sleep(0.1)
    r.wait_idle()


def test_out_of_descriptors_pauses_accepting_and_recovers(procs, echo):
    r = relay_server(procs)
    # leave room for a few relayed connections (two descriptors each), not for twenty
    nfds = len(os.listdir(f"/proc/{r.p.pid}/fd"))
    subprocess.run(["prlimit", f"--pid={r.p.pid}", f"--nofile={nfds + 6}:{nfds + 6}"], check=True)
    req = rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port))
    held = [rw.connect(r.port) for _ in range(20)]
    for s in held:
        s.sendall(req + b"x")
    deadline = time.monotonic() + 10
    while "pausing this listener" not in r.text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "pausing this listener" in r.text()
    for s in held:
        s.close()
    r.wait_idle()
    # the backlog drains once descriptors are free again; a new client is served
    s, resp = roundtrip(r.port, req, b"again")
    assert resp == b"\x01\x00\x00\x00"
    assert rw.recv_exact(s, 5) == b"again"
    s.close()

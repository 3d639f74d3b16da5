"""Relay BIND on the server, driven by a hand-written GOST-style client
(relaywire + smuxwire): TCP BIND with smux streams carrying real connections,
UDP BIND with RSV-length frames, and every refusal with GOST's status."""
import concurrent.futures
import json
import hashlib
import os
import socket
import struct
import time

import pytest

import relaywire as rw
import smuxwire as sm
from conftest import free_port


def relay_server(procs, query="bind=true", url="relay://:{port}"):
    port = free_port()
    r = procs.relayd("-L", url.format(port=port) + ("?" + query if query else ""))
    r.port = port
    return r


def read_response(s):
    hdr = rw.recv_exact(s, 4)
    assert len(hdr) == 4, f"no response: {hdr!r}"
    feats = rw.recv_exact(s, struct.unpack(">H", hdr[2:])[0])
    return hdr[1], feats


def feature_addr(feats):
    """host, port of the first ADDR feature."""
    i = 0
    while i < len(feats):
        t, ln = feats[i], struct.unpack(">H", feats[i + 1:i + 3])[0]
        body = feats[i + 3:i + 3 + ln]
        if t == 2:
            atyp = body[0]
            if atyp == 1:
                host = socket.inet_ntop(socket.AF_INET, body[1:5])
            elif atyp == 4:
                host = socket.inet_ntop(socket.AF_INET6, body[1:17])
            else:
                host = body[2:2 + body[1]].decode()
            return host, struct.unpack(">H", body[-2:])[0]
        i += 3 + ln
    return None


def bind(port, bind_port, udp=False, auth=()):
    s = rw.connect(port)
    feats = list(auth) + [rw.network(1 if udp else 0), rw.addr("0.0.0.0", bind_port)]
    s.sendall(rw.request(rw.BIND | (rw.FUDP if udp else 0), *feats))
    status, feats = read_response(s)
    return s, status, feats


def test_bind_is_refused_as_gost_does_without_bind_true(procs):
    r = relay_server(procs, query="")
    s = rw.connect(r.port)
    s.sendall(rw.request(rw.BIND, rw.network(0), rw.addr("0.0.0.0", free_port())))
    assert rw.read_all(s) == b"\x01\x03\x00\x00"


def test_tcp_bind_streams_carry_each_accepted_connection(procs):
    r = relay_server(procs)
    bp = free_port()
    s, status, feats = bind(r.port, bp)
    assert status == 0
    assert feature_addr(feats) == ("::", bp)    # Go's wildcard listen, dual stack
    sess = sm.Session(s)
    peers = []
    for i in range(3):
        c = rw.connect(bp)
        peers.append(c)
        st = sess.accept()
        assert st.sid == 3 + 2 * i
        hdr = st.read_exact(14)
        assert hdr[:8] == b"\x01\x00\x00\x0a\x02\x00\x07\x01"
        assert hdr[8:12] == socket.inet_aton("127.0.0.1")
        assert struct.unpack(">H", hdr[12:])[0] == c.getsockname()[1]
        c.sendall(b"hello %d" % i)
        assert st.read_exact(7) == b"hello %d" % i
        st.write(b"world %d" % i)
        assert rw.recv_exact(c, 7) == b"world %d" % i
    # the stream's FIN half-closes the accepted connection; its close sends FIN back
    st = sess.streams[3]
    st.close()
    assert rw.read_all(peers[0]) == b""
    peers[0].close()
    assert st.read_to_fin() == b""
    peers[1].close()
    assert sess.streams[5].read_to_fin() == b""
    # every frame relayd wrote was version 1 with a known command
    assert all(f[0] == 1 and f[1] in (sm.SYN, sm.FIN, sm.PSH, sm.NOP) for f in sess.frames)
    # closing the BIND connection closes the bound port
    s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", bp), timeout=1).close()
            time.sleep(0.05)
        except OSError:
            break
    else:
        pytest.fail("the bound port stayed open after the BIND ended")
    r.wait_idle()


def test_tcp_bind_200_concurrent_streams_on_one_session(procs):
    r = relay_server(procs)
    bp = free_port()
    s, status, _ = bind(r.port, bp)
    assert status == 0
    sess = sm.Session(s)
    n = 200
    blobs = [os.urandom(20000 + i) for i in range(n)]
    conns = [rw.connect(bp) for _ in range(n)]
    streams = {}
    for _ in range(n):
        st = sess.accept()
        hdr = st.read_exact(14)
        streams[struct.unpack(">H", hdr[12:])[0]] = st
    assert sorted(st.sid for st in streams.values()) == list(range(3, 3 + 2 * n, 2))

    def one(i):
        c = conns[i]
        st = streams[c.getsockname()[1]]
        c.sendall(blobs[i])
        up = st.read_exact(len(blobs[i]), timeout=60)
        st.write(up[::-1])
        down = rw.recv_exact(c, len(blobs[i]), timeout=60)
        st.close()
        c.close()
        return hashlib.sha256(up).digest() == hashlib.sha256(blobs[i]).digest() and \
            down == blobs[i][::-1]

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        assert all(ex.map(one, range(n)))
    s.close()
    r.wait_idle()


def test_smux_protocol_error_closes_the_session_with_a_log_line(procs):
    r = relay_server(procs)
    bp = free_port()
    s, status, _ = bind(r.port, bp)
    assert status == 0
    s.sendall(sm.frame(sm.SYN, 2, ver=2))       # version 2 on a version 1 session
    assert rw.read_all(s, timeout=10) == b""
    r.wait_idle()
    assert "invalid protocol" in r.text()


def test_smux_v2_when_configured_sends_window_updates(procs):
    r = relay_server(procs, query="bind=true&mux.version=2")
    bp = free_port()
    s, status, _ = bind(r.port, bp)
    assert status == 0
    sess = sm.Session(s, ver=2)
    c = rw.connect(bp)
    st = sess.accept()
    st.read_exact(14)
    st.write(b"x" * 100000)      # more than one v2 window would allow without updates
    assert rw.recv_exact(c, 100000, timeout=20) == b"x" * 100000
    c.sendall(b"ping")
    assert st.read_exact(4) == b"ping"
    assert any(f[1] == sm.UPD for f in sess.frames)
    assert all(f[0] == 2 for f in sess.frames)
    s.close()
    r.wait_idle()


def udp_frame(host, port, data):
    a = rw.addr(host, port)[3:]     # ATYP ADDR PORT, without the feature header
    return struct.pack(">HB", len(data), 0xff) + a + data


def test_udp_bind_frames_datagrams_both_ways(procs):
    r = relay_server(procs)
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(10)
    s, status, feats = bind(r.port, 0, udp=True)
    assert status == 0
    bound = feature_addr(feats)[1]
    assert bound != 0
    s.sendall(udp_frame("127.0.0.1", echo.getsockname()[1], b"query-1") +
              udp_frame("127.0.0.1", echo.getsockname()[1], b"query-22"))
    got = sorted([echo.recvfrom(100), echo.recvfrom(100)])
    assert [g[0] for g in got] == [b"query-1", b"query-22"]
    assert got[0][1][1] == bound
    echo.sendto(b"answer", ("127.0.0.1", bound))
    want = udp_frame("127.0.0.1", echo.getsockname()[1], b"answer")
    assert rw.recv_exact(s, len(want)) == want
    # relayctl: the BIND, and the peer it talked to with its bytes each way
    conns = r.conns()
    b = [c for c in conns if c["target"] == f"bind [::]:{bound}/udp"]
    assert len(b) == 1 and b[0]["bytes_up"] == 15 and b[0]["bytes_down"] == 6
    peers = [c for c in conns if c["proto"] == "bind-udp"]
    assert len(peers) == 1 and peers[0]["client"] == "127.0.0.1:%d" % echo.getsockname()[1]
    assert peers[0]["target"] == f"bind#{b[0]['id']} {b[0]['client']}"
    assert (peers[0]["bytes_up"], peers[0]["bytes_down"]) == (15, 6)
    s.close()
    r.wait_idle()


def test_bind_refusals_get_the_right_status(procs):
    r = relay_server(procs, query="bind=true&bind.allow=:20000-65535")
    busy = socket.socket()
    busy.bind(("0.0.0.0", 0))
    busy.listen()
    # in use: GOST's listen error, 05
    s, status, _ = bind(r.port, busy.getsockname()[1])
    assert status == 5
    # privileged, and outside the allow-list: 03
    assert bind(r.port, 80)[1] == 3
    assert bind(r.port, 19999)[1] == 3
    busy.close()
    # a UDP port in use: GOST closes without any response
    ubusy = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    ubusy.bind(("::", 0))
    s = rw.connect(r.port)
    s.sendall(rw.request(rw.BIND | rw.FUDP, rw.network(1),
                         rw.addr("0.0.0.0", ubusy.getsockname()[1])))
    assert rw.read_all(s) == b""
    ubusy.close()
    # an unsupported network: 01
    s = rw.connect(r.port)
    s.sendall(rw.request(rw.BIND, rw.network(0x10), rw.addr("0.0.0.0", free_port())))
    assert rw.read_all(s) == b"\x01\x01\x00\x00"


def test_bind_needs_credentials_where_users_exist(procs):
    r = relay_server(procs, query="bind=true&skipauth=127.0.0.1", url="relay://alice:pw@:{port}")
    assert bind(r.port, free_port())[1] == 2
    assert bind(r.port, free_port(), auth=[rw.user_auth("alice", "bad")])[1] == 2
    bp = free_port()
    s, status, _ = bind(r.port, bp, auth=[rw.user_auth("alice", "pw")])
    assert status == 0
    owner = [c for c in r.conns() if c["target"] == f"bind [::]:{bp}"]
    assert len(owner) == 1 and owner[0]["user"] == "alice"
    s.close()


def test_bind_enabled_from_json_metadata(procs):
    port, bp = free_port(), free_port()
    cfg = {"services": [{"name": "relay-bind", "addr": f":{port}",
                         "handler": {"type": "relay", "metadata": {"bind": True}},
                         "listener": {"type": "tcp"}}]}
    procs.relayd("-C", json.dumps(cfg))
    s, status, feats = bind(port, bp)
    assert status == 0 and feature_addr(feats) == ("::", bp)
    s.close()


def test_relayctl_kill_ends_a_bind_and_its_port(procs):
    r = relay_server(procs)
    bp = free_port()
    s, status, _ = bind(r.port, bp)
    assert status == 0
    sess = sm.Session(s)
    c = rw.connect(bp)
    sess.accept()
    bid = [x for x in r.conns() if x["target"] == f"bind [::]:{bp}"][0]["id"]
    r.ctl_cmd("kill", bid)
    assert sess.closed.wait(10)
    assert rw.read_all(c) == b""        # the stream's connection went with it
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", bp), timeout=2)
    r.wait_idle()


def test_tcp_bind_bytes_match_gosts_captured_exchange(procs):
    """The server side of relay_bind_tcp_server_to_client_sequence, byte for
    byte (the bound and peer addresses are this run's)."""
    from conftest import ROOT
    vec = {e["name"]: e for e in json.loads((ROOT / "tests/vectors/smux-vectors.json").read_text())}
    steps = vec["relay_bind_tcp_server_to_client_sequence"]["meaning"]["steps"]
    r = relay_server(procs)
    bp = free_port()
    s = rw.connect(r.port)
    s.sendall(rw.request(rw.BIND, rw.network(0), rw.addr("0.0.0.0", bp)))
    want = bytes.fromhex("01000016020013040000000000000000000000000000000008ae")[:-2] + \
        struct.pack(">H", bp)               # resp_bind_ok_bound_ipv6_any, this port
    assert rw.recv_exact(s, len(want)) == want
    c = rw.connect(bp)
    c.sendall(b"SSH-2.0-x\r\n")
    peer = bytes.fromhex(steps[2]["frame"]["payload_hex"])[:-6] + \
        socket.inet_aton("127.0.0.1") + struct.pack(">H", c.getsockname()[1])
    expect = bytes.fromhex(steps[1]["hex"]) + bytes.fromhex(steps[2]["hex"])[:8] + peer + \
        bytes.fromhex(steps[3]["hex"])
    assert rw.recv_exact(s, len(expect)) == expect
    c.close()
    s.close()

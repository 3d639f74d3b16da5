"""The fast-path correctness matrix, through relayd, on both data paths.

Every case runs with the kernel fast path (sockhash + verdict redirect) and
with --fastpath=off (splice), in two topologies: a traffic client speaking
relay directly to a relayd server ("server"), and a relayd client forwarding
a plain TCP port to a relayd server ("chain").  The traffic tool checks every
byte; relayctl proves which path moved them."""
import json
import socket
import subprocess
import threading
import time

import pytest

import relaywire as rw
from conftest import (BIG, RELAYCTL, RELAYD, SAN, TRAFFIC, MiB, free_port, server_lines,
                      traffic, wait_port)

PATHS = ["kernel", "splice"]
TOPOLOGIES = ["server", "chain"]


class Setup:
    def __init__(self, procs, topo, path, srv, relayd_args=()):
        self.srv = srv
        self.relayds = []
        fp = "on" if path == "kernel" else "off"
        sport = free_port()
        server = procs.relayd("-L", f"relay://:{sport}", *relayd_args, name="server", fastpath=fp)
        self.relayds.append(server)
        if topo == "server":
            self.client_args = ["-c", f"127.0.0.1:{sport}", "--relay-connect",
                                f"127.0.0.1:{srv.port}"]
        else:
            cport = free_port()
            client = procs.relayd("-L", f"tcp://:{cport}/127.0.0.1:{srv.port}",
                                  "-F", f"relay://127.0.0.1:{sport}", *relayd_args,
                                  name="client", fastpath=fp)
            self.relayds.append(client)
            self.client_args = ["-c", f"127.0.0.1:{cport}"]
        self.path = path
        self.before = [r.status() for r in self.relayds]

    def check_paths(self, moved, allow_user=0, conns=1):
        """Each relayd moved the bytes on the expected path, and closed everything.

        Before the hand-over a connection is copied in userspace (the relay
        header, the held-back response, bytes already queued); that part is
        bounded.  After it, every byte goes through the verdict: redirected, or
        passed up and copied while its direction was throttled."""
        slack = allow_user + max(moved // 10, 16 * MiB) + 4 * MiB * conns
        for r, before in zip(self.relayds, self.before):
            st = r.wait_idle()
            kernel = st["bytes"]["kernel"] - before["bytes"]["kernel"]
            splice = st["bytes"]["splice"] - before["bytes"]["splice"]
            user = st["bytes"]["user"] - before["bytes"]["user"]
            assert kernel + splice + user >= moved, (r.name, st)
            if self.path == "kernel":
                fp, fpb = st["fastpath"], before["fastpath"]
                passed = fp["passed_bytes"] - fpb["passed_bytes"]
                assert fp["loaded"], fp
                assert user - passed <= slack, (r.name, kernel, passed, user)
                assert kernel > 0 or allow_user, (r.name, st)
                assert fp["pairs_active"] == 0
            else:
                assert kernel == 0
                assert user <= slack, (r.name, kernel, splice, user)


def expect_done(srv, n, rx, tx):
    lines = server_lines(srv, n)
    for line in lines[-n:]:
        assert line.startswith("conn ") and f" done rx={rx} ok tx={tx}" in line, line


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_full_duplex_big_transfer_each_way(procs, path, topo):
    srv = procs.traffic_server("xfer", "-n", BIG)
    s = Setup(procs, topo, path, srv)
    traffic("xfer", *s.client_args, "-n", BIG, "-x", BIG)
    expect_done(srv, 1, BIG, BIG)
    s.check_paths(2 * BIG)


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_eight_parallel_connections(procs, path, topo):
    each = BIG // 8
    srv = procs.traffic_server("xfer", "-n", each)
    s = Setup(procs, topo, path, srv)
    traffic("xfer", *s.client_args, "-n", each, "-x", each, "-j", 8)
    expect_done(srv, 8, each, each)
    s.check_paths(16 * each, conns=8)


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_half_close_then_reply(procs, path, topo):
    up, down = BIG // 4, BIG // 16
    srv = procs.traffic_server("hc", "-n", down)
    s = Setup(procs, topo, path, srv)
    traffic("xfer", *s.client_args, "-n", up, "-x", down, "--half-close")
    expect_done(srv, 1, up, down)
    s.check_paths(up + down)


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_data_both_ways_queued_before_pairing(procs, path, topo):
    # the target speaks at once and the client writes at once (half now, half
    # 20 ms later) while relayd stalls 50 ms before the hand-over
    srv = procs.traffic_server("banner", "-n", 200000)
    s = Setup(procs, topo, path, srv, relayd_args=("--test-pair-delay-ms", "50"))
    traffic("early", *s.client_args, "-n", 200000, "-b", 200000, "--split", 20)
    traffic("early", *s.client_args, "-n", 200000, "-b", 200000)
    s.check_paths(800000, allow_user=800000)


@pytest.mark.parametrize("path", PATHS)
def test_client_writes_immediately_after_connecting(procs, path):
    srv = procs.traffic_server("xfer", "-n", BIG // 4)
    s = Setup(procs, "chain", path, srv)
    traffic("xfer", *s.client_args, "-n", BIG // 4, "-x", BIG // 4, "--immediate")
    expect_done(srv, 1, BIG // 4, BIG // 4)
    s.check_paths(BIG // 2)


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_target_reset_reaches_the_client(procs, path, topo):
    srv = procs.traffic_server("rst", "-a", 4 * MiB)
    s = Setup(procs, topo, path, srv)
    rc, out = traffic("rst", *s.client_args, "-n", 64 * MiB, "--expect-reset")
    assert "reset=received" in out, out
    for r in s.relayds:
        r.wait_idle()


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_client_reset_reaches_the_target(procs, path, topo):
    # a target that never writes and never closes first (sink)
    srv = procs.traffic_server("sink", "-t", 0)
    s = Setup(procs, topo, path, srv)
    rc, out = traffic("rst", *s.client_args, "--reset-after", 4 * MiB)
    assert "reset=sent" in out, out
    line = server_lines(srv, 1)[0]
    assert " fail " in line and "err=reset" in line, line
    for r in s.relayds:
        r.wait_idle()


class _EchoAfterEof:
    """Reads everything until the client's FIN, then sends it back and closes."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            data = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
            c.sendall(data)
            c.close()


@pytest.mark.parametrize("path", PATHS)
def test_client_fin_before_pairing_finishes_in_userspace(procs, path):
    tgt = _EchoAfterEof()
    sport = free_port()
    # nodelay=true: the response goes out at once, so the hand-over is tried
    # (and stalled) while the client's FIN is on its way
    r = procs.relayd("-L", f"relay://:{sport}?nodelay=true", "--test-pair-delay-ms", "200",
                     fastpath="on" if path == "kernel" else "off")
    before = r.status()
    payload = bytes(range(256)) * 400
    c = rw.connect(sport)
    c.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", tgt.port)) + payload[:1000])
    time.sleep(0.05)        # relayd has read that and is stalled before the hand-over
    c.sendall(payload[1000:])
    c.shutdown(socket.SHUT_WR)
    got = rw.read_all(c, timeout=30)
    c.close()
    assert got[:4] == b"\x01\x00\x00\x00"
    assert got[4:] == payload
    st = r.wait_idle()
    if path == "kernel":
        # the client's FIN arrived during the stall: the insert was refused
        assert st["fastpath"]["insert_refused"] >= before["fastpath"]["insert_refused"] + 1
    tgt.ls.close()


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable")


@pytest.mark.parametrize("topo", TOPOLOGIES)
@pytest.mark.parametrize("path", PATHS)
def test_stalled_reader_keeps_kernel_memory_bounded(procs, path, topo):
    total = 1 << 30 if not SAN else 256 * MiB
    srv = procs.traffic_server("sink", "-t", 4)
    s = Setup(procs, topo, path, srv)
    base = mem_available()
    cl = subprocess.Popen([str(TRAFFIC), "xfer", *s.client_args, "-n", str(total), "-x", "0",
                           "-T", "120"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    low = base
    while cl.poll() is None:
        low = min(low, mem_available())
        time.sleep(0.1)
    out = cl.stdout.read()
    assert cl.returncode == 0, out
    expect_done(srv, 1, total, 0)
    # without demotion the redirect queue pins what the client pushed during the
    # stall (hundreds of MiB); with it, a few MiB per direction
    assert base - low < 256 * MiB, f"kernel memory grew by {(base - low) >> 20} MiB"
    if path == "kernel":
        st = s.relayds[0].wait_idle()
        throttled = sum(r.status()["fastpath"]["throttles"] for r in s.relayds)
        assert throttled >= 1, st
    s.check_paths(total, allow_user=total)


def test_relayctl_shows_kernel_path_and_bpf_counters(procs):
    srv = procs.traffic_server("echo", "-T", "0")
    s = Setup(procs, "chain", "kernel", srv)
    idle = subprocess.Popen([str(TRAFFIC), "idle", *s.client_args, "-j", "4", "--hold", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        seen = {}
        while time.monotonic() < deadline and len(seen) < len(s.relayds):
            for r in s.relayds:
                conns = r.conns()
                if len(conns) == 4 and all(c["path"] == "kernel" for c in conns):
                    seen[r.name] = conns
            time.sleep(0.05)
        assert len(seen) == len(s.relayds), {r.name: r.conns() for r in s.relayds}
        for name, conns in seen.items():
            for c in conns:
                assert c["service"] and c["client"] and c["target"], c
                assert c["age_ms"] >= 0
    finally:
        out = idle.communicate(timeout=60)[0]
    assert idle.returncode == 0, out
    for r in s.relayds:
        st = r.wait_idle()
        # the last round trip of each connection went through the kernel
        assert st["bytes"]["kernel"] >= 4 * 16 * 2, st
        assert st["fastpath"]["pairs_total"] >= 4


def test_without_bpf_privileges_relayd_says_why_and_uses_splice(procs, tmp_path):
    """No CAP_BPF/CAP_NET_ADMIN: one log line saying why, then splice, same bytes."""
    srv = procs.traffic_server("xfer", "-n", 16 * MiB)
    sport = free_port()
    log = tmp_path / "nobpf.log"
    ctl_sock = tmp_path / "nobpf.sock"
    p = subprocess.Popen(["setpriv", "--bounding-set", "-bpf,-net_admin,-sys_admin,-perfmon",
                          "--inh-caps", "-all", "--", str(RELAYD), "--ctl", str(ctl_sock),
                          "-L", f"relay://:{sport}"], stdout=open(log, "wb"),
                         stderr=subprocess.STDOUT)
    try:
        wait_port(sport)
        traffic("xfer", "-c", f"127.0.0.1:{sport}", "--relay-connect", f"127.0.0.1:{srv.port}",
                "-n", 16 * MiB, "-x", 16 * MiB)
        r = subprocess.run([str(RELAYCTL), "-j", "--ctl", str(ctl_sock), "status"],
                           capture_output=True, text=True, timeout=10)
        st = json.loads(r.stdout)
        assert not st["fastpath"]["loaded"]
        assert st["fastpath"]["state"].startswith("unavailable:"), st["fastpath"]
        assert st["bytes"]["kernel"] == 0 and st["bytes"]["splice"] > 0, st["bytes"]
    finally:
        p.terminate()
        p.wait(10)
    lines = [l for l in log.read_text().splitlines() if "fast path" in l and "splice" in l]
    assert len(lines) == 1, log.read_text()
    assert "CAP_BPF" in lines[0], lines[0]

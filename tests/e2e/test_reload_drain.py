"""Reload under load and drain: an iperf3 transfer and a curl loop through a
relay chain while both relayds get SIGHUP ten times and the server's auth file
changes (nothing fails, the new user works, the removed one stops working);
SIGTERM during a transfer lets it finish within the grace period."""
import json
import signal
import subprocess
import threading
import time

import pytest

import relaywire as rw
from conftest import free_port, have, wait_for
from targets import Target
from test_client import web  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(not have("iperf3"), reason="iperf3 not installed")


def iperf_server(procs):
    port = free_port()
    p = procs.proc(["iperf3", "-s", "-p", port, "-B", "127.0.0.1", "--forceflush"], "iperf3-s")
    wait_for(lambda: "Server listening" in p.text(), what="iperf3 server")
    return port


def iperf_client(port, seconds):
    return subprocess.Popen(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                             "-J"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def iperf_result(p):
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, out + err
    res = json.loads(out)
    assert "error" not in res, res["error"]
    return res["end"]["sum_received"]["bytes"]


def relay_status(port, user, password, target_port):
    """The relay server's status byte for a CONNECT as user (0: OK, and the
    echo answered; the response waits for the target's first bytes)."""
    s = rw.connect(port)
    try:
        s.sendall(rw.request(rw.CONNECT, rw.user_auth(user, password),
                             rw.addr("127.0.0.1", target_port)) + b"ping")
        status = rw.recv_exact(s, 4)[1]
        if status == 0:
            assert rw.recv_exact(s, 4) == b"ping"
        return status
    finally:
        s.close()


def test_reload_under_load_keeps_transfers_and_applies_new_users(procs, tmp_path, web):  # noqa: F811
    users = tmp_path / "users.txt"
    users.write_text("alice pw1\ncarol pw3\n")
    sport, fport, pport = free_port(), free_port(), free_port()
    cfg = tmp_path / "server.json"
    cfg.write_text(json.dumps({
        "services": [{"name": "relay", "addr": f":{sport}",
                      "handler": {"type": "relay", "auther": "users"},
                      "listener": {"type": "tcp"}}],
        "authers": [{"name": "users", "file": {"path": str(users)}}]}))
    server = procs.relayd("-C", cfg, name="server")
    iport = iperf_server(procs)
    client = procs.relayd("-L", f"tcp://:{fport}/127.0.0.1:{iport}", "-L", f"http://:{pport}",
                          "-F", f"relay://alice:pw1@127.0.0.1:{sport}", name="client")
    echo = Target("echo")
    try:
        assert relay_status(sport, "bob", "pw2", echo.port) != 0
        assert relay_status(sport, "carol", "pw3", echo.port) == 0
        iperf = iperf_client(fport, 4)
        failures, runs, stop = [], [0], threading.Event()

        def curl_loop():
            while not stop.is_set():
                r = subprocess.run(["curl", "-sS", "--max-time", "20", "-x",
                                    f"http://127.0.0.1:{pport}",
                                    f"http://127.0.0.1:{web['port']}/hello.txt"],
                                   capture_output=True, timeout=60)
                runs[0] += 1
                if r.returncode != 0 or r.stdout != b"hello from the origin\n":
                    failures.append(r.stderr.decode(errors="replace"))
        t = threading.Thread(target=curl_loop)
        t.start()
        try:
            wait_for(lambda: any(c["target"].endswith(f":{iport}") for c in server.conns()),
                     what="iperf3 connections through the chain")
            for i in range(10):
                if i == 5:      # bob joins, carol leaves, alice (the chain's user) stays
                    users.write_text("alice pw1\nbob pw2\n")
                server.p.send_signal(signal.SIGHUP)
                client.p.send_signal(signal.SIGHUP)
                time.sleep(0.2)
            moved = iperf_result(iperf)
        finally:
            stop.set()
            t.join(60)
        assert moved > 0
        assert not failures, failures[:3]
        assert runs[0] >= 1
        wait_for(lambda: server.status()["reloads"]["ok"] == 10, what="ten server reloads")
        assert server.status()["reloads"]["failed"] == 0
        assert client.status()["reloads"]["ok"] == 10
        assert relay_status(sport, "bob", "pw2", echo.port) == 0
        assert relay_status(sport, "carol", "pw3", echo.port) != 0
    finally:
        echo.close()


def test_sigterm_during_a_transfer_lets_it_finish(procs):
    iport = iperf_server(procs)
    fport = free_port()
    r = procs.relayd("-L", f"tcp://:{fport}/127.0.0.1:{iport}", "--grace", "60", name="drain")
    iperf = iperf_client(fport, 3)
    wait_for(lambda: any(c["target"].endswith(f":{iport}") for c in r.conns()),
             what="the transfer runs")
    r.p.send_signal(signal.SIGTERM)
    # stopped accepting at once, the running transfer continues
    wait_for(lambda: "no new connections" in r.text(), what="the drain starts")
    refused = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(fport), "-t", "1"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert iperf_result(iperf) > 0
    assert r.p.wait(60) == 0
    assert "drained: no connection left" in r.text()
    assert "grace period over" not in r.text()


def test_grace_period_over_closes_what_is_left(procs):
    echo = Target("echo")
    try:
        port = free_port()
        r = procs.relayd("-L", f"relay://:{port}", "--grace", "1", name="short")
        s = rw.connect(port)
        s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port)) + b"idle")
        assert rw.recv_exact(s, 8)[4:] == b"idle"
        r.p.send_signal(signal.SIGTERM)
        s.settimeout(30)
        assert s.recv(10) == b""        # closed by relayd once the grace period ran out
        s.close()
        assert r.p.wait(30) == 0
        assert "grace period over: closing 1 connection(s)" in r.text()
    finally:
        echo.close()

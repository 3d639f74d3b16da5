"""Metrics and health endpoints: GOST's -metrics flag and metrics block,
Prometheus text checked by promtool, /livez and /readyz, basic auth."""
import re
import shutil
import signal
import socket
import subprocess

import pytest

import relaywire as rw
from conftest import RELAYD, free_port, wait_for, wait_port
from targets import Target


def curl(url, *extra):
    """(status, body) of a GET with curl."""
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *extra, url],
                       capture_output=True, text=True, timeout=10)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def sample(text, name, **labels):
    """The value of the sample with this name and at least these labels."""
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    raise KeyError(f"{name}{labels} not in:\n{text}")


def promtool_check(text):
    if not shutil.which("promtool"):
        pytest.fail("promtool missing: make deps installs Debian's prometheus package")
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}\n{text}"


def relay_echo(port, echo_port, n=1000):
    s = rw.connect(port)
    s.sendall(rw.request(rw.CONNECT, rw.user_auth("alice", "pw"),
                         rw.addr("127.0.0.1", echo_port)) + b"x" * n)
    assert rw.recv_exact(s, 4 + n)[4:] == b"x" * n
    return s


def test_metrics_flag_serves_gost_names_that_promtool_accepts(procs):
    echo = Target("echo")
    try:
        port, mport = free_port(), free_port()
        r = procs.relayd("-L", f"relay://alice:pw@:{port}", "-metrics", f"127.0.0.1:{mport}",
                         name="m")
        wait_port(mport)
        for _ in range(3):
            relay_echo(port, echo.port).close()
        r.wait_idle()
        code, text = curl(f"http://127.0.0.1:{mport}/metrics")
        assert code == 200
        promtool_check(text)
        host = socket.gethostname()
        svc = {"host": host, "service": "service-0"}
        assert sample(text, "gost_services", host=host) == 1
        assert sample(text, "gost_service_requests_total", **svc) == 3
        assert sample(text, "gost_service_requests_in_flight", **svc) == 0
        assert sample(text, "gost_service_transfer_input_bytes_total", **svc) >= 3000
        assert sample(text, "gost_service_transfer_output_bytes_total", **svc) >= 3000
        assert sample(text, "gost_service_handler_errors_total", **svc) == 0
        assert sample(text, "relayd_handshake_duration_seconds_count") == 3
        assert sample(text, "relayd_handshake_duration_seconds_bucket", le="+Inf") == 3
        assert sample(text, "relayd_fastpath_loaded") == 1
        for path in ("kernel", "user", "splice"):
            sample(text, "relayd_transfer_bytes_total", path=path)
        for reason in ("bpf_unavailable", "transport", "refused", "splice_failed"):
            sample(text, "relayd_fastpath_fallback_total", reason=reason)
        assert "# TYPE gost_chain_errors_total counter" in text
        # a live connection is in flight
        s = relay_echo(port, echo.port)
        code, text = curl(f"http://127.0.0.1:{mport}/metrics")
        assert sample(text, "gost_service_requests_in_flight", **svc) == 1
        assert sample(text, "relayd_connections_active") == 1
        s.close()
    finally:
        echo.close()


def test_handler_and_chain_errors_are_counted(procs):
    port, mport, dead = free_port(), free_port(), free_port()
    procs.relayd("-L", f"tcp://:{port}/127.0.0.1:9", "-F", f"relay://127.0.0.1:{dead}",
                 "-metrics", f"127.0.0.1:{mport}", name="chain")
    wait_port(mport)
    c = socket.create_connection(("127.0.0.1", port))
    c.settimeout(10)
    assert c.recv(10) == b""        # the chain's only node refuses: closed
    c.close()

    def counted():
        _, text = curl(f"http://127.0.0.1:{mport}/metrics")
        try:
            return sample(text, "gost_chain_errors_total", chain="chain-0") == 1 and text
        except KeyError:
            return None
    text = wait_for(counted, what="chain error counted")
    assert sample(text, "gost_service_handler_errors_total", service="service-0") == 1
    promtool_check(text)


def test_livez_readyz_and_drain(procs):
    echo = Target("echo")
    try:
        port, mport = free_port(), free_port()
        r = procs.relayd("-L", f"relay://alice:pw@:{port}", "-metrics", f":{mport}",
                         "--grace", "30", name="health")
        wait_port(mport)
        assert curl(f"http://127.0.0.1:{mport}/livez") == (200, "ok\n")
        assert curl(f"http://127.0.0.1:{mport}/readyz") == (200, "ok\n")
        assert curl(f"http://127.0.0.1:{mport}/nope")[0] == 404
        assert curl(f"http://127.0.0.1:{mport}/livez", "-X", "POST")[0] == 405
        s = relay_echo(port, echo.port)
        r.p.send_signal(signal.SIGTERM)
        wait_for(lambda: curl(f"http://127.0.0.1:{mport}/readyz")[0] == 503,
                 what="not ready while draining")
        assert curl(f"http://127.0.0.1:{mport}/livez") == (200, "ok\n")
        s.sendall(b"still")
        assert rw.recv_exact(s, 5) == b"still"
        s.close()
        r.p.wait(20)
        assert r.p.returncode == 0
    finally:
        echo.close()


def test_metrics_block_path_and_auth(procs):
    port, mport = free_port(), free_port()
    cfg = ('{"services":[{"name":"svc-a","addr":":%d","handler":{"type":"relay"},'
           '"listener":{"type":"tcp"}}],"metrics":{"addr":"127.0.0.1:%d","path":"/m",'
           '"auth":{"username":"prom","password":"sec"}}}' % (port, mport))
    procs.relayd("-C", cfg, name="block")
    wait_port(mport)
    url = f"http://127.0.0.1:{mport}/m"
    assert curl(url)[0] == 401
    assert curl(url, "-u", "prom:wrong")[0] == 401
    code, text = curl(url, "-u", "prom:sec")
    assert code == 200 and sample(text, "gost_services") == 1
    assert sample(text, "gost_service_requests_total", service="svc-a") == 0
    assert curl(f"http://127.0.0.1:{mport}/metrics", "-u", "prom:sec")[0] == 404
    promtool_check(text)


def test_metrics_port_in_use_is_a_clear_start_error(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    mport = busy.getsockname()[1]
    r = subprocess.run([str(RELAYD), "--ctl", str(tmp_path / "x.sock"), "-L", f":{free_port()}",
                        "-metrics", f"127.0.0.1:{mport}"], capture_output=True, text=True,
                       timeout=20)
    busy.close()
    assert r.returncode == 1
    assert "metrics: listen tcp" in r.stderr and "in use" in r.stderr

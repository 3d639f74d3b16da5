"""relayctl against live daemons: status and conns, text and JSON, several
daemons side by side on their own control sockets, and clear errors."""
import json
import socket
import subprocess

import pytest

import relaywire as rw
from conftest import RELAYCTL, free_port
from targets import Target


def ctl(*args):
    return subprocess.run([str(RELAYCTL), *map(str, args)], capture_output=True, text=True,
                          timeout=10)


def test_two_daemons_side_by_side_with_their_own_control_sockets(procs):
    a_port, b_port = free_port(), free_port()
    a = procs.relayd("-L", f"relay://:{a_port}", name="a")
    b = procs.relayd("-L", f"tcp://:{b_port}/127.0.0.1:9", "--workers", "1", name="b",
                     fastpath="off")
    sa, sb = a.status(), b.status()
    assert sa["pid"] != sb["pid"]
    assert sa["services"][0]["listen"].endswith(f":{a_port}")
    assert sb["services"][0]["listen"].endswith(f":{b_port}")
    assert sa["fastpath"]["state"] == "loaded" and sa["fastpath"]["loaded"]
    assert sb["fastpath"]["state"].startswith("off") and not sb["fastpath"]["loaded"]
    assert sb["workers"] == 1
    for key in ("relayd", "uptime_s", "bytes", "connections"):
        assert key in sa
    assert set(sa["bytes"]) == {"kernel", "user", "splice"}


def test_status_and_conns_text_and_json(procs):
    echo = Target("echo")
    try:
        port = free_port()
        r = procs.relayd("-L", f"relay://alice:pw@:{port}", name="srv")
        s = rw.connect(port)
        s.sendall(rw.request(rw.CONNECT, rw.user_auth("alice", "pw"),
                             rw.addr("127.0.0.1", echo.port)) + b"x" * 1000)
        assert rw.recv_exact(s, 1004)[4:] == b"x" * 1000
        conns = r.conns()
        assert len(conns) == 1
        c = conns[0]
        assert c["service"] == "service-0" and c["proto"] == "relay" and c["user"] == "alice"
        assert c["target"] == f"127.0.0.1:{echo.port}"
        assert c["client"] == f"127.0.0.1:{s.getsockname()[1]}"
        assert c["path"] in ("kernel", "user", "splice")
        assert c["bytes_up"] >= 1000 and c["bytes_down"] >= 1000
        assert c["age_ms"] >= 0
        text = ctl("--ctl", r.ctl, "conns")
        assert text.returncode == 0
        assert "alice" in text.stdout and f"127.0.0.1:{echo.port}" in text.stdout
        assert text.stdout.splitlines()[0].split()[:4] == ["ID", "SERVICE", "PROTO", "CLIENT"]
        text = ctl("--ctl", r.ctl, "status")
        assert "fast path: loaded" in text.stdout and "service-0" in text.stdout
        pretty = ctl("-p", "--ctl", r.ctl, "status")
        assert json.loads(pretty.stdout)["ok"] is True and "\n  " in pretty.stdout
        s.close()
        r.wait_idle()
        assert r.conns() == []
    finally:
        echo.close()


def test_errors_name_what_failed(tmp_path):
    missing = tmp_path / "nobody.sock"
    r = ctl("--ctl", missing, "status")
    assert r.returncode == 1
    assert f"no relayd at {missing}" in r.stderr
    r = ctl("-j", "--ctl", missing, "conns")
    assert r.returncode == 1
    assert json.loads(r.stdout)["ok"] is False
    r = ctl("frobnicate")
    assert r.returncode == 2 and "Usage" in r.stderr


def test_daemon_answers_unknown_commands_with_an_error(procs):
    r = procs.relayd("-L", f"relay://:{free_port()}", name="srv")
    c = socket.socket(socket.AF_UNIX)
    c.connect(str(r.ctl))
    c.sendall(b'{"cmd":"frobnicate"}\n')
    reply = json.loads(rw.read_all(c))
    c.close()
    assert reply["ok"] is False and "unknown command" in reply["error"]


def test_second_daemon_on_the_same_control_socket_is_refused(procs, tmp_path):
    r = procs.relayd("-L", f"relay://:{free_port()}", name="first")
    p = subprocess.run(["/bin/sh", "-c", f"exec {r.argv[0]} --ctl {r.ctl} -L relay://:{free_port()}"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert "another relayd is running there" in p.stderr
    assert r.status()["pid"] == r.p.pid


def test_conn_kill_services_reload_and_stats(procs, tmp_path):
    echo = Target("echo")
    try:
        p1, p2 = free_port(), free_port()
        cfg = tmp_path / "relayd.json"

        def write(ports):
            cfg.write_text(json.dumps({"services": [
                {"name": f"svc{p}", "addr": f":{p}", "handler": {"type": "relay"},
                 "listener": {"type": "tcp"}} for p in ports]}))
        write([p1])
        r = procs.relayd("-C", cfg, name="srv")
        s = rw.connect(p1)
        s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port)) + b"y" * 100)
        assert rw.recv_exact(s, 104)[4:] == b"y" * 100
        cid = r.conns()[0]["id"]
        one = r.ctl_cmd("conn", cid)["conn"]
        assert one["id"] == cid and one["target"] == f"127.0.0.1:{echo.port}"
        text = ctl("--ctl", r.ctl, "conn", cid)
        assert text.returncode == 0 and f"target: \"127.0.0.1:{echo.port}\"" in text.stdout
        assert ctl("--ctl", r.ctl, "conn", cid + 1000).returncode == 1
        assert ctl("--ctl", r.ctl, "conn", "x").returncode == 2

        out = ctl("--ctl", r.ctl, "kill", cid)
        assert out.returncode == 0 and f"connection {cid} closed" in out.stdout, out
        s.settimeout(10)
        assert s.recv(100) == b""           # the daemon closed the client side
        s.close()

        names = [v["name"] for v in r.ctl_cmd("services")["services"]]
        assert names == [f"svc{p1}"]
        write([p1, p2])
        out = ctl("--ctl", r.ctl, "reload")
        assert out.returncode == 0 and f"svc{p2}" in out.stdout, out
        socket.create_connection(("127.0.0.1", p2), timeout=5).close()
        assert ctl("--ctl", r.ctl, "reload", "everything").returncode == 2

        st = r.ctl_cmd("stats")
        assert st["connections"]["accepted"] >= 1
        assert st["services"][f"svc{p1}"]["requests"] >= 1
        assert "stats" not in ctl("--ctl", r.ctl, "stats").stderr
    finally:
        echo.close()


@pytest.fixture
def relay(procs):
    """A relay server and an echo target for it."""
    echo = Target("echo")
    port = free_port()
    r = procs.relayd("-L", f"relay://:{port}", name="srv")
    r.port, r.echo = port, echo
    yield r
    echo.close()


def relay_conn(r, payload=b"z" * 100):
    s = rw.connect(r.port)
    s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", r.echo.port)) + payload)
    assert rw.recv_exact(s, 4 + len(payload))[4:] == payload
    return s


def jctl(r, *args):
    out = ctl("-j", "--ctl", r.ctl, *args)
    assert out.returncode == 0, out
    return json.loads(out.stdout)


def test_object_command_grammar_and_the_old_aliases_agree(relay):
    r = relay
    s = relay_conn(r)
    cid = r.conns()[0]["id"]
    pairs = [(("service", "list"), ("services",)), (("conn", "list"), ("conns",)),
             (("conn",), ("conns",)), (("conn", "show", cid), ("conn", cid))]
    for new, old in pairs:
        a, b = jctl(r, *new), jctl(r, *old)
        assert a["ok"] and set(a) == set(b), (new, old)
    assert jctl(r, "conn", "show", cid)["conn"]["id"] == cid
    for cmd in (("status",), ("stats",), ("service", "list"), ("conn", "list"),
                ("conn", "show", cid), ("map", "dump")):
        text = ctl("--ctl", r.ctl, *cmd)
        assert text.returncode == 0 and text.stdout.strip(), (cmd, text)
    assert "reloaded users" in ctl("--ctl", r.ctl, "user", "reload").stdout
    assert "reloaded config" in ctl("--ctl", r.ctl, "config", "reload").stdout
    assert jctl(r, "reload", "users")["reloaded"] == "users"
    for bad in (("conn", "show"), ("conn", "show", "x"), ("conn", "kill", "0"),
                ("status", "now"), ("map",), ("config", "check"), ("user",)):
        out = ctl("--ctl", r.ctl, *bad)
        assert out.returncode == 2 and "not a command: " + " ".join(map(str, bad)) in out.stderr
    s.close()


def test_conn_kill_on_a_fast_path_connection_empties_the_maps(relay):
    r = relay
    s = relay_conn(r)
    c = r.conns()[0]
    assert c["path"] == "kernel"
    dump = jctl(r, "map", "dump")
    cookies = {v["cookie"] for v in dump["sockets"]}
    assert len(cookies) == 2 and all(v["peer_cookie"] in cookies for v in dump["sockets"])
    out = ctl("--ctl", r.ctl, "conn", "kill", c["id"])
    assert out.returncode == 0 and f"connection {c['id']} closed" in out.stdout
    s.settimeout(10)
    assert s.recv(100) == b""           # the client side is closed
    s.close()
    r.wait_idle()
    assert jctl(r, "map", "dump")["sockets"] == []
    assert ctl("--ctl", r.ctl, "conn", "kill", c["id"]).returncode == 1


def test_map_dump_reads_the_pinned_maps_while_the_control_socket_is_down(relay):
    r = relay
    s = relay_conn(r, b"m" * 5000)
    moved = r.ctl.with_name("moved.sock")
    r.ctl.rename(moved)
    try:
        down = ctl("--ctl", r.ctl, "status")
        assert down.returncode == 1 and f"no relayd at {r.ctl}" in down.stderr
        dump = jctl(r, "map", "dump")
        assert len(dump["sockets"]) == 2 and "redirected_bytes" in dump["stats"]
        text = ctl("--ctl", r.ctl, "map", "dump")
        assert text.returncode == 0 and "COOKIE" in text.stdout
    finally:
        moved.rename(r.ctl)
    s.close()
    r.wait_idle()
    gone = ctl("-j", "--ctl", "/nonexistent/relayd.sock", "map", "dump")
    assert gone.returncode == 1 and "no pinned map" in json.loads(gone.stdout)["error"]


def test_config_check_uses_the_daemons_parser(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"services": [
        {"name": "r", "addr": ":12345", "handler": {"type": "relay"},
         "listener": {"type": "tcp"}}]}))
    out = ctl("config", "check", good)
    assert out.returncode == 0 and f"{good}: valid, 1 service(s)" in out.stdout
    assert json.loads(ctl("-j", "config", "check", good).stdout)["services"][0]["name"] == "r"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"services": [
        {"name": "r", "addr": ":1", "handler": {"type": "nonsense"}}]}))
    out = ctl("config", "check", bad)
    assert out.returncode == 1 and "services[0].handler.type" in out.stderr
    out = ctl("-j", "config", "check", tmp_path / "missing.json")
    assert out.returncode == 1 and "missing.json" in json.loads(out.stdout)["error"]

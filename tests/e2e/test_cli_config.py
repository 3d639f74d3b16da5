"""relayd's command line and GOST config files, as a user runs them: -O json
prints what the flags mean (GOST's own output for the same flags), bad flags
and fields get one clear error and exit status 2, the shipped configs run."""
import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

import relaywire as rw
from conftest import RELAYD, ROOT, free_port
from targets import Target


def run(*args, timeout=10):
    return subprocess.run([str(RELAYD), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_print_config_matches_gost_for_the_forwarding_example():
    # gost -L tcp://:2222/:22 -L udp://:1053/:53 -F relay://:8420 -O json
    r = run("-L", "tcp://:2222/:22", "-L", "udp://:1053/:53", "-F", "relay://:8420", "-O", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "services": [
            {"name": "service-0", "addr": ":2222",
             "handler": {"type": "tcp", "chain": "chain-0"}, "listener": {"type": "tcp"},
             "forwarder": {"nodes": [{"name": "target-0", "addr": ":22"}]}},
            {"name": "service-1", "addr": ":1053",
             "handler": {"type": "udp", "chain": "chain-0"}, "listener": {"type": "udp"},
             "forwarder": {"nodes": [{"name": "target-0", "addr": ":53"}]}}],
        "chains": [{"name": "chain-0", "hops": [{"name": "hop-0", "nodes": [
            {"name": "node-0", "addr": ":8420",
             "connector": {"type": "relay"}, "dialer": {"type": "tcp"}}]}]}]}


def test_print_config_for_relay_server_and_client_auth():
    r = run("-L", "relay://user:pass@:12345", "-O", "json")
    svc = json.loads(r.stdout)["services"][0]
    assert svc["handler"] == {"type": "relay", "auth": {"username": "user", "password": "pass"}}
    assert svc["listener"] == {"type": "tcp"}
    r = run("-L", ":8080", "-F", "relay://u:p@srv:12345?nodelay=false", "-O", "json")
    doc = json.loads(r.stdout)
    node = doc["chains"][0]["hops"][0]["nodes"][0]
    assert doc["services"][0]["handler"]["type"] == "auto"
    assert node["connector"] == {"type": "relay", "auth": {"username": "u", "password": "p"},
                                 "metadata": {"nodelay": "false"}}
    assert node["dialer"]["tls"] == {"serverName": "srv"}


@pytest.mark.parametrize("args,needle", [
    (["-X"], "flag provided but not defined: -X"),
    (["-L"], "flag needs an argument: -L"),
    (["-L", "relay://u:p@:1/%zz"], "invalid URL escape"),
    (["-L", "relay://[::1"], "relay://[::1"),
    (["--fastpath=maybe", "-L", ":1"], "--fastpath=maybe"),
    (["-C", "/nonexistent/relayd.json"], "/nonexistent/relayd.json"),
])
def test_bad_flags_are_one_clear_error_and_exit_2(args, needle):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr, r.stderr
    assert r.stderr.startswith("relayd: ")


@pytest.mark.parametrize("doc,needle", [
    ({"services": [{"name": "a", "addr": ":1", "handler": {"type": "relay", "chain": "nope"}}]},
     "services[0].handler.chain: no chain named 'nope'"),
    ({"services": [{"name": "a", "addr": ":1", "handler": {"type": "ss"}}]},
     "services[0].handler.type: 'ss' is a GOST handler that relayd does not implement"),
    ({"services": [{"name": "a", "addr": "1.2.3.4", "handler": {"type": "relay"}}]},
     "services[0].addr"),
    ({"services": [{"name": "a", "addr": ":1", "handler": {"type": "relay", "auther": "x"}}]},
     "no auther named 'x'"),
])
def test_bad_config_fields_name_the_file_and_field(tmp_path, doc, needle):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc))
    r = run("-C", f)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr, r.stderr
    assert str(f) in r.stderr


def test_bad_metadata_value_is_a_start_error(tmp_path):
    r = run("-L", "relay://:%d?nodelay=maybe" % free_port(), "--ctl", tmp_path / "x.sock")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "nodelay" in r.stderr and "maybe" in r.stderr


def test_port_in_use_is_a_runtime_error(tmp_path):
    s = socket.socket(socket.AF_INET6)
    s.bind(("::", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = run("-L", f"relay://:{port}", "--ctl", tmp_path / "x.sock")
        assert r.returncode == 1
        assert "Address already in use" in r.stderr
    finally:
        s.close()


def test_version():
    r = run("-V")
    assert r.returncode == 0 and r.stdout.startswith("relayd ")


def test_default_config_is_a_relay_server_with_a_user(procs):
    """What `make run` starts: configs/relayd.json, a relay server on :12345."""
    cfg = json.loads((ROOT / "configs" / "relayd.json").read_text())
    assert cfg["services"][0]["addr"] == ":12345"
    echo = Target("echo")
    try:
        procs.relayd("-C", ROOT / "configs" / "relayd.json", name="default")
        s = rw.connect(12345)
        s.sendall(rw.request(rw.CONNECT, rw.user_auth("relayd", "relayd"),
                             rw.addr("127.0.0.1", echo.port)) + b"hi")
        assert rw.recv_exact(s, 6) == b"\x01\x00\x00\x00hi"
        s.close()
        s = rw.connect(12345)
        s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port)))
        assert rw.read_all(s) == b"\x01\x02\x00\x00"
        s.close()
    finally:
        echo.close()


SUPPORTED_HANDLERS = {"relay", "tcp", "forward", "auto", "http", "socks", "socks5", "socks4"}
SUPPORTED_LISTENERS = {"tcp"}


def tcp_examples():
    out = []
    for f in sorted((ROOT / "configs" / "examples").glob("*.json")):
        doc = json.loads(f.read_text())
        svcs = doc.get("services") or []
        if svcs and all(s.get("handler", {}).get("type", "auto") in SUPPORTED_HANDLERS and
                        s.get("listener", {}).get("type", "tcp") in SUPPORTED_LISTENERS
                        for s in svcs):
            out.append(f)
    return out


@pytest.mark.parametrize("example", tcp_examples(), ids=lambda p: p.name)
def test_tcp_examples_from_the_relay_docs_run(procs, tmp_path, example):
    # the examples use GOST's documented ports; give each a free one
    doc = json.loads(example.read_text())
    for s in doc["services"]:
        host = s["addr"].rsplit(":", 1)[0]
        s["addr"] = f"{host}:{free_port()}"
    f = tmp_path / example.name
    f.write_text(json.dumps(doc))
    r = procs.relayd("-C", f, name=example.stem)
    st = r.status()
    assert [s["name"] for s in st["services"]] == [s["name"] for s in doc["services"]]


def test_tcp_example_list_is_not_empty():
    names = {p.name for p in tcp_examples()}
    assert {"relay-server.json", "relay-forward-mode-server.json"} <= names, names

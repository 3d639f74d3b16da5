"""Data channels from GOST JSON configs (listener.type and dialer.type tls, ws,
wss with their tls blocks and metadata; the top-level tls section; a reload
that reads the certificate again), the auto handler on a tls listener
(`-L tls://`) as an HTTPS proxy for curl, and a socks5 listener over wss."""
import json

from conftest import MiB, free_port
from origin import Origin, make_cert, pattern_sha256
from test_tls import curl_sha, fetch_ok, s_client


def test_json_wss_service_and_chain_with_tls_blocks(procs):
    crt, key = make_cert(procs.tmp, "server", cn="relay.example")
    sport, lport = free_port(), free_port()
    server_cfg = {"services": [{
        "name": "wss-in", "addr": f"127.0.0.1:{sport}",
        "handler": {"type": "relay", "auth": {"username": "u", "password": "p"}},
        "listener": {"type": "wss", "tls": {"certFile": str(crt), "keyFile": str(key)},
                     "metadata": {"path": "/tun", "handshakeTimeout": "2s"}}}]}
    client_cfg = {
        "services": [{"name": "proxy", "addr": f"127.0.0.1:{lport}",
                      "handler": {"type": "auto", "chain": "c"},
                      "listener": {"type": "tcp"}}],
        "chains": [{"name": "c", "hops": [{"name": "h", "nodes": [{
            "name": "n", "addr": f"127.0.0.1:{sport}",
            "connector": {"type": "relay", "auth": {"username": "u", "password": "p"}},
            "dialer": {"type": "wss",
                       "tls": {"serverName": "relay.example", "secure": True,
                               "caFile": str(crt)},
                       "metadata": {"path": "/tun", "host": "relay.example"}}}]}]}]}
    origin = Origin()
    try:
        server = procs.relayd("-C", json.dumps(server_cfg), name="server")
        procs.relayd("-C", json.dumps(client_cfg), name="client")
        fetch_ok(origin, lport, 4 * MiB)
        assert "upgrade refused" not in server.text()
    finally:
        origin.close()


def test_top_level_tls_section_gives_the_listener_its_certificate(procs):
    crt, key = make_cert(procs.tmp, "top", cn="top.relayd.test")
    port = free_port()
    cfg = {"services": [{"name": "t", "addr": f"127.0.0.1:{port}",
                         "handler": {"type": "relay"}, "listener": {"type": "tls"}}],
           "tls": {"certFile": str(crt), "keyFile": str(key)}}
    procs.relayd("-C", json.dumps(cfg), name="server")
    rc, out = s_client(port, "-CAfile", crt, "-verify_return_error")
    assert rc == 0 and "CN = top.relayd.test" in out, out


def test_auto_handler_on_a_tls_listener_is_an_https_proxy(procs):
    port = free_port()
    origin = Origin()
    try:
        procs.relayd("-L", f"tls://:{port}", name="proxy")
        digest, got, rc, err = curl_sha(origin.url(2 * MiB), "--proxy",
                                        f"https://127.0.0.1:{port}", "--proxy-insecure")
        assert rc == 0, err
        assert digest == pattern_sha256(2 * MiB)
    finally:
        origin.close()


def test_reload_reads_the_certificate_again(procs):
    """A reload keeps the listening socket and builds the TLS context anew."""
    port = free_port()
    crt, key = make_cert(procs.tmp, "first", cn="first.relayd.test")
    cfg = procs.tmp / "relayd.json"
    cfg.write_text(json.dumps({"services": [{
        "name": "t", "addr": f"127.0.0.1:{port}", "handler": {"type": "relay"},
        "listener": {"type": "tls", "tls": {"certFile": str(crt), "keyFile": str(key)}}}]}))
    r = procs.relayd("-C", cfg, name="server")
    rc, out = s_client(port)
    assert rc == 0 and "CN = first.relayd.test" in out, out
    crt2, key2 = make_cert(procs.tmp, "second", cn="second.relayd.test")
    crt.write_bytes(crt2.read_bytes())
    key.write_bytes(key2.read_bytes())
    r.ctl_cmd("reload")
    rc, out = s_client(port)
    assert rc == 0 and "CN = second.relayd.test" in out, out


def test_socks5_listener_through_a_wss_chain(procs):
    sport, lport = free_port(), free_port()
    origin = Origin()
    try:
        procs.relayd("-L", f"relay+wss://u:p@:{sport}", name="server")
        procs.relayd("-L", f"socks5://:{lport}", "-F", f"relay+wss://u:p@127.0.0.1:{sport}",
                     name="client")
        digest, got, rc, err = curl_sha(origin.url(4 * MiB), "-x",
                                        f"socks5h://127.0.0.1:{lport}")
        assert rc == 0, err
        assert digest == pattern_sha256(4 * MiB)
    finally:
        origin.close()

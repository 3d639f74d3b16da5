"""relay over TLS: the tls listener against openssl s_client (generated,
configured and working-directory certificates, client certificates), and
curl through client chains over tls (big sha256-checked transfers, users,
forwarding, secure/serverName/caFile, multi-hop chains mixing tls and tcp)."""
import hashlib
import subprocess

import pytest

from conftest import BIG, RELAYD, MiB, free_port, wait_port
from origin import Origin, make_cert, pattern_sha256


@pytest.fixture
def origin():
    o = Origin()
    yield o
    o.close()


def s_client(port, *args, timeout=20):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                       input=b"", capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def curl_sha(url, *args, timeout=180):
    """Stream curl's output into sha256; returns (digest, length, returncode, stderr)."""
    p = subprocess.Popen(["curl", "-sS", "--max-time", str(timeout), *args, url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    h, n = hashlib.sha256(), 0
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    err = p.stderr.read().decode(errors="replace")
    p.wait(timeout)
    return h.hexdigest(), n, p.returncode, err


def fetch_ok(origin, lport, n):
    digest, got, rc, err = curl_sha(origin.url(n), "-x", f"http://127.0.0.1:{lport}")
    assert rc == 0, err
    assert got == n
    assert digest == pattern_sha256(n)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_gets_the_generated_certificate(procs, version):
    port = free_port()
    rd = procs.relayd("-L", f"relay+tls://:{port}", cwd=procs.tmp)
    assert "tls listener certificate: self-signed, generated at start-up" in rd.text()
    rc, out = s_client(port, version, "-alpn", "h2,http/1.1")
    assert rc == 0, out
    assert "subject=O = GOST, CN = gost.run" in out
    assert "No ALPN negotiated" in out          # GOST's listener sets no ALPN
    # Go's first choice with AES hardware, in either version
    assert ("TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" if version == "-tls1_2"
            else "TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256") in out, out


def test_s_client_verifies_the_configured_certificate(procs):
    crt, key = make_cert(procs.tmp, "server")
    port = free_port()
    procs.relayd("-L", f"relay+tls://:{port}?certFile={crt}&keyFile={key}")
    rc, out = s_client(port, "-CAfile", crt, "-verify_return_error", "-verify_hostname",
                       "relayd.test", "-servername", "relayd.test")
    assert rc == 0, out
    assert "Verify return code: 0 (ok)" in out


def test_cert_pem_and_key_pem_in_the_working_directory(procs):
    wd = procs.tmp / "wd"
    wd.mkdir()
    crt, key = make_cert(procs.tmp, "cwd", cn="cwd.relayd.test")
    (wd / "cert.pem").write_bytes(crt.read_bytes())
    (wd / "key.pem").write_bytes(key.read_bytes())
    port = free_port()
    procs.relayd("-L", f"relay+tls://:{port}", cwd=wd)
    rc, out = s_client(port, "-CAfile", crt, "-verify_return_error")
    assert rc == 0, out
    assert "CN = cwd.relayd.test" in out


def test_a_bad_certificate_file_is_a_configuration_error(procs):
    r = subprocess.run([str(RELAYD), "-L", "relay+tls://:1?certFile=/nonexistent.pem&"
                        "keyFile=/nonexistent.key", "--ctl", procs.tmp / "x.sock"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "/nonexistent.pem" in r.stderr


def test_curl_through_a_tls_chain_big_transfer(procs, origin):
    sport, lport = free_port(), free_port()
    server = procs.relayd("-L", f"relay+tls://user:pass@:{sport}", name="server")
    client = procs.relayd("-L", f":{lport}", "-F", f"relay+tls://user:pass@127.0.0.1:{sport}",
                          name="client")
    fetch_ok(origin, lport, BIG)
    for rd in (client, server):
        rd.wait_idle()


def test_wrong_credentials_over_tls_are_refused(procs, origin):
    sport, lport = free_port(), free_port()
    procs.relayd("-L", f"relay+tls://user:pass@:{sport}", name="server")
    procs.relayd("-L", f":{lport}", "-F", f"relay+tls://user:bad@127.0.0.1:{sport}",
                 name="client")
    _, _, rc, err = curl_sha(origin.url(1000), "-x", f"http://127.0.0.1:{lport}", "-f")
    assert rc != 0


def test_forwarding_service_over_tls(procs, origin):
    sport, lport = free_port(), free_port()
    procs.relayd("-L", f"relay+tls://:{sport}/127.0.0.1:{origin.port}", name="server")
    procs.relayd("-L", f"tcp://:{lport}/127.0.0.1:1", "-F", f"relay+tls://127.0.0.1:{sport}",
                 name="client")
    wait_port(lport)
    digest, got, rc, err = curl_sha(f"http://127.0.0.1:{lport}/bytes/{8 * MiB}")
    assert rc == 0, err
    assert digest == pattern_sha256(8 * MiB)


def test_secure_client_verifies_name_and_ca(procs, origin):
    crt, key = make_cert(procs.tmp, "server")
    sport, good, bad = free_port(), free_port(), free_port()
    procs.relayd("-L", f"relay+tls://:{sport}?certFile={crt}&keyFile={key}", name="server")
    procs.relayd("-L", f":{good}", "-F",
                 f"relay+tls://127.0.0.1:{sport}?secure=true&serverName=relayd.test&caFile={crt}",
                 name="good")
    badc = procs.relayd("-L", f":{bad}", "-F",
                        f"relay+tls://127.0.0.1:{sport}?secure=true&serverName=other.test&"
                        f"caFile={crt}", name="bad")
    fetch_ok(origin, good, MiB)
    _, got, rc, _ = curl_sha(origin.url(MiB), "-x", f"http://127.0.0.1:{bad}", "-f")
    assert rc != 0 and got == 0
    assert "tls: handshake" in badc.text()


def test_client_certificates_required_by_ca_file(procs, origin):
    ca = make_cert(procs.tmp, "ca", cn="ca.relayd.test")
    crt, key = make_cert(procs.tmp, "server", ca=ca)
    ccrt, ckey = make_cert(procs.tmp, "client", cn="client.relayd.test", ca=ca)
    sport, with_cert, without = free_port(), free_port(), free_port()
    procs.relayd("-L", f"relay+tls://:{sport}?certFile={crt}&keyFile={key}&caFile={ca[0]}",
                 name="server")
    procs.relayd("-L", f":{with_cert}", "-F",
                 f"relay+tls://127.0.0.1:{sport}?certFile={ccrt}&keyFile={ckey}", name="c1")
    procs.relayd("-L", f":{without}", "-F", f"relay+tls://127.0.0.1:{sport}", name="c2")
    fetch_ok(origin, with_cert, MiB)
    _, got, rc, _ = curl_sha(origin.url(MiB), "-x", f"http://127.0.0.1:{without}", "-f")
    assert rc != 0 and got == 0


@pytest.mark.parametrize("hops", [("relay+tls", "relay"), ("relay", "relay+tls"),
                                  ("relay+tls", "relay+tls"), ("relay+wss", "relay+tls"),
                                  ("relay+ws", "relay+wss"), ("relay", "relay+ws")])
def test_multi_hop_chains_mixing_data_channels(procs, origin, hops):
    a, b, lport = free_port(), free_port(), free_port()
    procs.relayd("-L", f"{hops[0]}://:{a}", name="hop-a")
    procs.relayd("-L", f"{hops[1]}://:{b}", name="hop-b")
    client = procs.relayd("-L", f":{lport}", "-F", f"{hops[0]}://127.0.0.1:{a}",
                          "-F", f"{hops[1]}://127.0.0.1:{b}", name="client")
    fetch_ok(origin, lport, 16 * MiB)
    client.wait_idle()

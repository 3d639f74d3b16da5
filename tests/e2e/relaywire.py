"""GOST relay messages built by hand for the end-to-end tests (independent of
relayd's C codec, so a shared misunderstanding cannot hide)."""
import ipaddress
import socket
import struct
import time

CONNECT, BIND = 0x01, 0x02
FUDP = 0x80


def feat(t, data):
    return struct.pack(">BH", t, len(data)) + data


def user_auth(user, password):
    u, p = user.encode(), password.encode()
    return feat(0x01, bytes([len(u)]) + u + bytes([len(p)]) + p)


def addr(host, port):
    try:
        ip = ipaddress.ip_address(host)
        if ip.version == 4:
            body = b"\x01" + ip.packed
        else:
            body = b"\x04" + ip.packed
    except ValueError:
        h = host.encode()
        body = b"\x03" + bytes([len(h)]) + h
    return feat(0x02, body + struct.pack(">H", port))


def network(nid):
    return feat(0x04, struct.pack(">H", nid))


def request(cmd=CONNECT, *features, version=1):
    body = b"".join(features)
    return struct.pack(">BBH", version, cmd, len(body)) + body


def recv_exact(s, n, timeout=10):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def read_all(s, timeout=10):
    """Everything until EOF (or the timeout)."""
    s.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def connect(port, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

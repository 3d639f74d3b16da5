"""UDP peers for the end-to-end tests: an echo server in a thread, dnsmasq as
a real DNS server, and helpers for the relay's 2-byte length framing."""
import shutil
import socket
import struct
import subprocess
import threading
import time

from conftest import Proc


class UdpEcho:
    """Sends every datagram back to its sender, unchanged (or only counts it:
    reply=False).  close() joins the
    thread before closing the socket: a thread still blocked on a closed
    socket's number would read whatever socket gets that number next."""

    def __init__(self, host="127.0.0.1", reply=True):
        self.reply = reply
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.stopping = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stopping:
            try:
                b, a = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.count += 1
            try:
                if self.reply:
                    self.sock.sendto(b, a)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.t.join()
        self.sock.close()


def closed_udp_port():
    """A UDP port nothing listens on (the kernel answers port unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frame(dg):
    return struct.pack(">H", len(dg)) + dg


def read_frame(s, timeout=10):
    from relaywire import recv_exact
    h = recv_exact(s, 2, timeout)
    if len(h) < 2:
        return None
    n = struct.unpack(">H", h)[0]
    return recv_exact(s, n, timeout)


def dnsmasq(procs, port, name="dnsmasq"):
    """dnsmasq in the foreground answering example.test and nothing else."""
    exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    p = procs.proc([exe, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "-p", str(port),
                    "--address=/example.test/1.2.3.4", "--user=root", "--pid-file="], name)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not p.alive():
            raise RuntimeError(f"dnsmasq exited: {p.text()}")
        if dig(port, tcp=True, check=False) == "1.2.3.4":
            return p
        time.sleep(0.05)
    raise TimeoutError(f"dnsmasq did not answer: {p.text()}")


def dig(port, name="example.test", tcp=False, check=True):
    argv = ["dig", "+short", "+tries=1", "+time=3", "-p", str(port), "@127.0.0.1", name]
    if tcp:
        argv.insert(1, "+tcp")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if check and r.returncode:
        raise AssertionError(f"{argv} failed: {r.stdout}{r.stderr}")
    return r.stdout.strip()


__all__ = ["Proc", "UdpEcho", "closed_udp_port", "frame", "read_frame", "dnsmasq", "dig"]

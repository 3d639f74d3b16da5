"""End-to-end test harness: real relayd processes, real peers, loopback only.

Fixtures start processes on free ports, wait for them to be ready, and kill
them at teardown.  RELAYD_BUILD picks the build directory (build/ or
build-san/); under RELAYD_SAN=1 transfers are smaller and every relayd log is
checked for sanitizer reports.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("RELAYD_BUILD", "build")
RELAYD = BUILD / "relayd"
RELAYCTL = BUILD / "relayctl"
TRAFFIC = BUILD / "tests" / "tools" / "traffic"
SAN = os.environ.get("RELAYD_SAN") == "1"
MiB = 1 << 20
GiB = 1 << 30
# the big transfers: 1 GiB normally, smaller under ASan (the kernel path is not
# slower there, but the userspace paths are)
BIG = int(os.environ.get("RELAYD_BIG", 64 * MiB if SAN else GiB))


def free_port(family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def wait_for(cond, timeout=20, what="condition"):
    """cond()'s first true value, polled until the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError(what)


class Proc:
    """A background process with its output in a log file."""

    def __init__(self, argv, log, env=None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.fh = open(self.log, "wb")
        self.p = subprocess.Popen(self.argv, stdout=self.fh, stderr=subprocess.STDOUT,
                                  env=env, cwd=cwd, start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def text(self):
        if not self.fh.closed:
            self.fh.flush()
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.fh.close()
        return self.p.returncode


class Relayd(Proc):
    def __init__(self, args, tmp, name, fastpath="on", cwd=None):
        self.ctl = Path(tmp) / f"{name}.sock"
        self.name = name
        env = dict(os.environ)
        if SAN:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        super().__init__([RELAYD, "--ctl", self.ctl, f"--fastpath={fastpath}", "--grace", "2", "-D",
                          *args],
                         Path(tmp) / f"{name}.log", env=env, cwd=cwd)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"relayd {name} exited {self.p.returncode}:\n{self.text()}")
            if self.ctl.exists():
                try:
                    self.status()
                    return
                except (OSError, RuntimeError, ValueError):
                    pass
            time.sleep(0.02)
        raise TimeoutError(f"relayd {name} did not start:\n{self.text()}")

    def ctl_cmd(self, *cmd):
        r = subprocess.run([str(RELAYCTL), "-j", "--ctl", str(self.ctl), *map(str, cmd)],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"relayctl {cmd}: {r.stdout}{r.stderr}")
        return json.loads(r.stdout)

    def status(self):
        return self.ctl_cmd("status")

    def conns(self):
        return self.ctl_cmd("conns")["conns"]

    def wait_idle(self, timeout=20):
        """Wait until the daemon has no live connections (all pairs closed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st["connections"]["active"] == 0:
                return st
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: connections still open: {self.conns()}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        rc = super().stop(sig, timeout)
        log = self.text()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"):
            assert bad not in log, f"relayd {self.name}: sanitizer report:\n{log[-6000:]}"
        return rc


@pytest.fixture
def procs(tmp_path):
    """Start helper processes; all are stopped at teardown."""
    started = []

    class Factory:
        tmp = tmp_path

        def relayd(self, *args, name=None, fastpath="on", cwd=None):
            r = Relayd(list(args), tmp_path, name or f"relayd{len(started)}", fastpath, cwd)
            started.append(r)
            return r

        def proc(self, argv, name):
            p = Proc(argv, tmp_path / f"{name}.log")
            started.append(p)
            return p

        def traffic_server(self, mode, *args, name=None):
            ready = tmp_path / f"{name or mode}-{len(started)}.ready"
            p = self.proc([TRAFFIC, "serve", "-l", "127.0.0.1:0", "-m", mode, "--ready", ready,
                           *args], name or f"traffic-{mode}-{len(started)}")
            deadline = time.monotonic() + 10
            while not ready.exists():
                if not p.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"traffic serve failed: {p.text()}")
                time.sleep(0.01)
            p.port = int(ready.read_text().strip().rsplit(":", 1)[1])
            return p

    yield Factory()
    errors = []
    for p in reversed(started):
        try:
            rc = p.stop()
            if isinstance(p, Relayd) and rc not in (0, None):
                errors.append(f"relayd {p.name} exited {rc}:\n{p.text()[-3000:]}")
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def traffic(*args, timeout=300, check=True):
    """Run a traffic client; returns (returncode, stdout+stderr)."""
    r = subprocess.run([str(TRAFFIC), *[str(a) for a in args]], capture_output=True, text=True,
                       timeout=timeout)
    out = r.stdout + r.stderr
    if check and r.returncode:
        raise AssertionError(f"traffic {args} failed ({r.returncode}):\n{out}")
    return r.returncode, out


def server_lines(p, n=1, timeout=60):
    """The server's per-connection lines, once n of them are in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [l for l in p.text().splitlines() if l.startswith("conn ")]
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    raise TimeoutError(f"server logged fewer than {n} connections:\n{p.text()}")


def have(tool):
    return shutil.which(tool) is not None

"""Packaging: make install to a PREFIX, the systemd unit (systemd-analyze
verify, and its capability set really loads the fast path), --check, and
-h plus the man page listing every flag relayd parses."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD, RELAYD, RELAYCTL, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "configs/systemd/relayd.service"


def run(*argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kw)


def parsed_flags():
    src = (REPO / "user/main.c").read_text()
    flags = set(re.findall(r'!strcmp\(name, "([^"]+)"\)', src))
    assert {"L", "F", "C", "metrics", "check", "grace", "ctl"} <= flags
    return flags


def test_help_and_man_page_list_every_flag():
    help_text = run(RELAYD, "-h").stdout
    man = (REPO / "man/relayd.8").read_text().replace("\\-", "-")
    for f in parsed_flags():
        dash = "-" + f if len(f) <= 2 or f == "metrics" else "--" + f
        assert re.search(rf"(^|[\s,]){re.escape(dash)}\b", help_text), f"-h lacks {dash}"
        assert dash in man, f"man/relayd.8 lacks {dash}"
    for cmd in ("status", "service list", "conn kill", "user reload", "config check",
                "config reload", "map dump", "stats"):
        assert cmd in (REPO / "man/relayctl.8").read_text()
        assert cmd in run(RELAYCTL, "-h").stdout + run(RELAYCTL, "-h").stderr


def test_check_validates_without_binding(tmp_path):
    port = free_port()
    ok = run(RELAYD, "-L", f"relay://:{port}", "-metrics", ":9", "--check")
    assert ok.returncode == 0, ok.stderr
    assert "configuration valid: 1 service(s), 0 chain(s), metrics on :9" in ok.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"services":[{"name":"a","addr":":1","handler":{"type":"nope"}}]}')
    r = run(RELAYD, "-C", bad, "--check")
    assert r.returncode == 2 and "services[0].handler.type" in r.stderr
    # nothing was bound: the port is still free
    import socket
    s = socket.socket()
    s.bind(("0.0.0.0", port))
    s.close()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install with PREFIX in a scratch tree (so the unit's paths exist)."""
    root = tmp_path_factory.mktemp("inst")
    args = ["make", "-C", REPO, "install", f"BUILD={BUILD}", f"PREFIX={root}/usr",
            f"SYSCONFDIR={root}/etc"]
    if "san" in BUILD.name:
        args.append("SAN=1")
    r = run(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    return root


def test_make_install_with_prefix_and_destdir(installed, tmp_path):
    root = installed
    for rel in ("usr/sbin/relayd", "usr/bin/relayctl", "usr/share/man/man8/relayd.8",
                "usr/share/man/man8/relayctl.8", "usr/lib/systemd/system/relayd.service",
                "usr/share/doc/relayd/relayd.json.example", "etc/relayd/relayd.json"):
        assert (root / rel).is_file(), rel
    assert os.access(root / "usr/sbin/relayd", os.X_OK)
    assert run(root / "usr/sbin/relayd", "-V").stdout.startswith("relayd ")
    unit = (root / "usr/lib/systemd/system/relayd.service").read_text()
    assert f"ExecStart={root}/usr/sbin/relayd -C {root}/etc/relayd/relayd.json" in unit
    assert "/usr/local/" not in unit
    # DESTDIR stages the same tree elsewhere; an existing config is never replaced
    stage = tmp_path / "stage"
    (stage / "etc/relayd").mkdir(parents=True)
    (stage / "etc/relayd/relayd.json").write_text("{}")
    args = ["make", "-C", REPO, "install", f"BUILD={BUILD}", f"DESTDIR={stage}", "PREFIX=/usr"]
    if "san" in BUILD.name:
        args.append("SAN=1")
    r = run(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (stage / "usr/sbin/relayd").is_file() and (stage / "usr/bin/relayctl").is_file()
    assert "ExecStart=/usr/sbin/relayd -C /etc/relayd/relayd.json" in \
        (stage / "usr/lib/systemd/system/relayd.service").read_text()
    assert (stage / "etc/relayd/relayd.json").read_text() == "{}"


def test_systemd_unit_verifies(installed):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze missing (Debian package systemd)")
    unit = installed / "usr/lib/systemd/system/relayd.service"
    env = dict(os.environ, MANPATH=str(installed / "usr/share/man"))
    r = run("systemd-analyze", "verify", unit, env=env)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    text = UNIT.read_text()
    assert "Type=notify" in text
    reload_cmds = re.findall(r"^ExecReload=(.*)$", text, re.M)
    assert "--check" in reload_cmds[0] and "kill -HUP $MAINPID" in reload_cmds[1]


def test_unit_capabilities_are_enough_for_the_fast_path(tmp_path):
    """The unit's CapabilityBoundingSet, applied with setpriv: BPF loads."""
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", UNIT.read_text(), re.M).group(1).split()
    spec = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    ctl = tmp_path / "cap.sock"
    p = subprocess.Popen(["setpriv", "--bounding-set", spec, "--", str(RELAYD), "--ctl", str(ctl),
                          "--no-pin-maps", "-L", f"relay://:{free_port()}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def status():
            r = run(RELAYCTL, "-j", "--ctl", ctl, "status")
            return r.returncode == 0 and r.stdout
        st = wait_for(status, what="relayd under the unit's capabilities")
        assert '"state": "loaded"' in st or '"state":"loaded"' in st, st
    finally:
        p.terminate()
        p.wait(30)
    # one capability fewer and the kernel refuses the programs: the set is minimal
    p = subprocess.Popen(["setpriv", "--bounding-set", "-all,+bpf,+net_admin", "--", str(RELAYD),
                          "--ctl", str(ctl), "--no-pin-maps", "-L", f"relay://:{free_port()}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        st = wait_for(status, what="relayd without CAP_PERFMON")
        assert "unavailable" in st, st
    finally:
        p.terminate()
        p.wait(30)

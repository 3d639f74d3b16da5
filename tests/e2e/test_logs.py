"""Logs: GOST-style JSON lines on stderr, the connection summary's fields, and
the level from the config's log block or -D."""
import json
import subprocess

import relaywire as rw
from conftest import RELAYD, free_port, wait_for
from targets import Target


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_connection_summary_has_gosts_fields(procs):
    echo = Target("echo")
    try:
        port = free_port()
        r = procs.relayd("-L", f"relay://alice:pw@:{port}", name="log")
        s = rw.connect(port)
        s.sendall(rw.request(rw.CONNECT, rw.user_auth("alice", "pw"),
                             rw.addr("127.0.0.1", echo.port)) + b"q" * 1234)
        assert rw.recv_exact(s, 4 + 1234)[4:] == b"q" * 1234
        client = f"127.0.0.1:{s.getsockname()[1]}"
        s.close()
        r.wait_idle()

        def summary():
            return [l for l in json_lines(r.text()) if "inputBytes" in l]
        line = wait_for(summary, what="the summary line")[0]
        assert line["level"] == "info" and line["kind"] == "handler"
        assert line["service"] == "service-0" and line["remote"] == client
        assert line["user"] == "alice" and line["dst"] == f"127.0.0.1:{echo.port}"
        assert line["local"] == f"127.0.0.1:{port}"
        assert line["inputBytes"] == 1234 and line["outputBytes"] == 1234
        assert line["duration"] == line["duration_ms"] * 1000000
        assert "time" in line and "msg" in line
    finally:
        echo.close()


def test_level_from_the_config_and_debug_flag(tmp_path):
    port = free_port()
    echo = Target("echo")

    def run(*extra, level):
        """The JSON lines of a relayd that relayed one connection."""
        cfg = {"services": [{"name": "s", "addr": f":{port}", "handler": {"type": "relay"},
                             "listener": {"type": "tcp"}}], "log": {"level": level}}
        p = subprocess.Popen([str(RELAYD), "--ctl", str(tmp_path / "l.sock"), "-C",
                              json.dumps(cfg), *extra], stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: (tmp_path / "l.sock").exists(), what="started")
            s = rw.connect(port)
            s.sendall(rw.request(rw.CONNECT, rw.addr("127.0.0.1", echo.port)) + b"hi")
            assert rw.recv_exact(s, 6)[4:] == b"hi"
            s.close()
        finally:
            p.terminate()
            _, err = p.communicate(timeout=60)
        return json_lines(err)
    try:
        assert {l["level"] for l in run(level="warn")} <= {"warn", "error"}
        info = run(level="info")
        assert any("inputBytes" in l for l in info)
        assert not any(l["level"] == "debug" for l in info)
        debug = run("-D", level="warn")
        assert any(l["level"] == "debug" and l["msg"].startswith("relay: ") for l in debug)
    finally:
        echo.close()
    bad = subprocess.run([str(RELAYD), "-L", f":{port}", "-C", '{"log":{"level":"loud"}}'],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "log.level: 'loud' is not one of trace" in bad.stderr

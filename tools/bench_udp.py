"""The UDP part of relayd's benchmark (tools/bench --part udp).

udpload (tests/tools/udpload.c, sendmmsg/recvmmsg) keeps a window of
datagrams in flight to a batched UDP echo, directly and through relayd's
UDP-over-relay chain (client relayd -L udp://... -F relay://..., server
relayd -L relay://...), for 64-byte and 1400-byte datagrams.  Reported per
mode and size: datagrams echoed per second, echoed payload Mbit/s (one way),
and the CPU seconds the two relayd processes used per million echoed
datagrams (each echoed datagram crosses both relayds twice, there and back).

A measurement, not a test: no thresholds, nothing asserted.
"""
import os
import statistics
import subprocess
import time
from pathlib import Path


def _proc_cpu_s(pids):
    """user + system CPU seconds of these processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _kv(text):
    return {k: v for k, v in (l.split("=", 1) for l in text.split() if "=" in l)}


def _run_load(udpload, port, size, secs, window):
    r = subprocess.run([str(udpload), "run", "-c", f"127.0.0.1:{port}", "-s", str(size),
                        "-t", str(secs), "-w", str(window)], capture_output=True, text=True,
                       timeout=secs + 30)
    if r.returncode:
        raise RuntimeError(f"udpload failed: {r.stdout}{r.stderr}")
    return _kv(r.stdout)


def _wait_ready(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip().rsplit(":", 1)[1])
        time.sleep(0.02)
    raise RuntimeError("udpload echo did not start")


def udp_bench(build, procs_cls, relayd, free_port, wait_port, tmp, runs, secs, window=256):
    udpload = build / "tests" / "tools" / "udpload"
    if not udpload.exists():
        raise SystemExit(f"bench: {udpload} is missing: run make tests-build")
    ready = Path(tmp) / "udp-echo.ready"
    echo = subprocess.Popen([str(udpload), "echo", "-l", "127.0.0.1:0", "--ready", str(ready)])
    results = {}
    try:
        echo_port = _wait_ready(ready)
        for mode in ("direct", "relay-chain"):
            for size in (64, 1400):
                rows = []
                for _ in range(runs):
                    procs = procs_cls(tmp)
                    try:
                        port, pids = echo_port, []
                        if mode == "relay-chain":
                            rport, port = free_port(), free_port()
                            pids.append(relayd(procs, "udp-srv", "-L",
                                               f"relay://127.0.0.1:{rport}").pid)
                            wait_port(rport)
                            pids.append(relayd(procs, "udp-cli", "-L",
                                               f"udp://127.0.0.1:{port}/127.0.0.1:{echo_port}"
                                               "?keepalive=true&ttl=60s", "-F",
                                               f"relay://127.0.0.1:{rport}").pid)
                            time.sleep(0.3)     # the UDP listener has no port to poll
                        c0 = _proc_cpu_s(pids)
                        kv = _run_load(udpload, port, size, secs, window)
                        cpu = _proc_cpu_s(pids) - c0
                    finally:
                        procs.stop()
                    dps = float(kv["dgrams_per_s"])
                    got = int(kv["received"])
                    rows.append((dps, float(kv["mbit_per_s"]),
                                 cpu / (got / 1e6) if pids and got else float("nan"),
                                 int(kv["lost"])))
                med = tuple(statistics.median(r[i] for r in rows) for i in range(4))
                results[(mode, size)] = med
                print(f"udp {mode:11} {size:5} B: {med[0]:9.0f} datagrams/s, {med[1]:8.1f} Mbit/s, "
                      f"{med[2]:.2f} relayd CPU-s per million, lost {med[3]:.0f} (runs: "
                      + ", ".join(f"{r[0]:.0f}" for r in rows) + ")", flush=True)
    finally:
        echo.terminate()
        echo.wait()
    print()
    print("| UDP echo, window %d | datagrams/s (× direct) | Mbit/s | relayd CPU-s per million |"
          % window)
    print("|---|---|---|---|")
    for (mode, size), (dps, mbit, cpu, _) in results.items():
        base = results[("direct", size)][0]
        cpu_text = "-" if cpu != cpu else f"{cpu:.2f}"
        print(f"| {mode}, {size} B | {dps:.0f} ({dps / base:.2f}) | {mbit:.1f} | {cpu_text} |")
    return results

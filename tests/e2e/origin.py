"""Peers for the data-channel tests: an HTTP origin that streams any number
of pseudo-random bytes without storing them (GET /bytes/N), and certificates
made with the openssl command line."""
import functools
import hashlib
import http.server
import random
import subprocess
import threading

# a block whose length shares no factor with any buffer size, so a chunk
# lost, doubled or moved anywhere changes the digest
_BLOCK = random.Random(20261124).randbytes((1 << 20) + 7)


def pattern_chunks(n):
    while n > 0:
        b = _BLOCK[:n] if n < len(_BLOCK) else _BLOCK
        yield b
        n -= len(b)


@functools.lru_cache(maxsize=8)
def pattern_sha256(n):
    h = hashlib.sha256()
    for b in pattern_chunks(n):
        h.update(b)
    return h.hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "bytes" or not parts[1].isdigit():
            self.send_error(404)
            return
        n = int(parts[1])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        for b in pattern_chunks(n):
            self.wfile.write(b)

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class Origin:
    def __init__(self):
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def url(self, n):
        return f"http://127.0.0.1:{self.port}/bytes/{n}"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def make_cert(dirpath, name, cn="relayd.test", ca=None):
    """A key and certificate (self-signed, or signed by ca=(cert, key)); returns paths."""
    key = dirpath / f"{name}.key"
    crt = dirpath / f"{name}.crt"
    subj = ["-subj", f"/O=relayd tests/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"]
    if ca is None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-keyout", key,
                        "-out", crt, *subj], check=True, capture_output=True)
    else:
        csr = dirpath / f"{name}.csr"
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                        *subj], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                        "-CAcreateserial", "-days", "2", "-copy_extensions", "copy",
                        "-out", crt], check=True, capture_output=True)
    return crt, key

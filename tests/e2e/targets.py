"""Small TCP targets run in threads inside the test process: echo, a server
that speaks first, a server that closes without a word, a dual-stack echo."""
import socket
import socketserver
import threading


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            try:
                b = self.request.recv(65536)
            except OSError:
                return
            if not b:
                return
            self.request.sendall(b)


class _Banner(socketserver.BaseRequestHandler):
    banner = b"HELLO-FROM-TARGET\r\n"

    def handle(self):
        self.request.sendall(self.banner)
        _Echo.handle(self)


class _Silent(socketserver.BaseRequestHandler):
    """Reads until the client is done, then closes without sending anything."""

    def handle(self):
        self.request.settimeout(10)
        try:
            while self.request.recv(65536):
                pass
        except OSError:
            pass


class Target:
    def __init__(self, kind="echo", host="127.0.0.1"):
        handler = {"echo": _Echo, "banner": _Banner, "silent": _Silent}[kind]
        cls = _V6Server if ":" in host else _Server
        self.srv = cls((host, 0), handler)
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def closed_port():
    """A port with nothing listening on it (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""A small smux (xtaci/smux v1.5.31) peer written from the frame layout, for
driving relayd's BIND from the client side without GOST: a reader thread
collects SYN/PSH/FIN per stream; writes are single frames (little-endian)."""
import queue
import struct
import threading

SYN, FIN, PSH, NOP, UPD = range(5)


def frame(cmd, sid, data=b"", ver=1):
    return struct.pack("<BBHI", ver, cmd, len(data), sid) + data


class Stream:
    def __init__(self, sess, sid):
        self.sess, self.sid = sess, sid
        self.buf = bytearray()
        self.fin = False
        self.cv = threading.Condition()

    def read_exact(self, n, timeout=10):
        with self.cv:
            ok = self.cv.wait_for(lambda: len(self.buf) >= n or self.fin, timeout)
            if not ok or len(self.buf) < n:
                raise EOFError(f"stream {self.sid}: {len(self.buf)} of {n} bytes")
            out = bytes(self.buf[:n])
            del self.buf[:n]
            return out

    def read_to_fin(self, timeout=10):
        with self.cv:
            if not self.cv.wait_for(lambda: self.fin, timeout):
                raise TimeoutError(f"stream {self.sid}: no FIN")
            out = bytes(self.buf)
            self.buf.clear()
            return out

    def write(self, data):
        for i in range(0, len(data), 32768):
            self.sess.send(frame(PSH, self.sid, data[i:i + 32768], self.sess.ver))

    def close(self):
        self.sess.send(frame(FIN, self.sid, ver=self.sess.ver))


class Session:
    """Runs over a connected socket; the relay BIND response was read already."""

    def __init__(self, sock, ver=1):
        self.sock, self.ver = sock, ver
        self.streams = {}
        self.accepts = queue.Queue()
        self.frames = []                # (ver, cmd, sid, len) of every frame seen
        self.closed = threading.Event()
        self.wlock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)
        sock.settimeout(None)
        self.t.start()

    def send(self, b):
        with self.wlock:
            self.sock.sendall(b)

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            c = self.sock.recv(n - len(buf))
            if not c:
                raise EOFError
            buf += c
        return buf

    def _run(self):
        try:
            while True:
                ver, cmd, ln, sid = struct.unpack("<BBHI", self._recv(8))
                self.frames.append((ver, cmd, sid, ln))
                body = b""
                if cmd == PSH:
                    body = self._recv(ln)
                elif cmd == UPD:
                    body = self._recv(8)
                if cmd == SYN:
                    st = Stream(self, sid)
                    self.streams[sid] = st
                    self.accepts.put(st)
                elif cmd in (PSH, FIN) and sid in self.streams:
                    st = self.streams[sid]
                    with st.cv:
                        if cmd == PSH:
                            st.buf += body
                        else:
                            st.fin = True
                        st.cv.notify_all()
        except (EOFError, OSError):
            pass
        finally:
            for st in list(self.streams.values()):
                with st.cv:
                    st.fin = True
                    st.cv.notify_all()
            self.closed.set()

    def accept(self, timeout=10):
        return self.accepts.get(timeout=timeout)

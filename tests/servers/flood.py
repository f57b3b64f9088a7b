"""An idle-connection flood: many TCP connections to a loopback port that never send a byte, each one
replaced as soon as the server closes it, for a bounded time and a bounded number of connections."""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import threading
import time


class IdleFlood:
    def __init__(self, port: int, connections: int, max_opened: int = 100_000, per_second: int = 2000):
        self.port, self.connections, self.max_opened, self.per_second = port, connections, max_opened, per_second
        self.opened = 0            # connections started in all
        self.established = 0       # ... whose handshake completed (the server's kernel took them)
        self.closed_by_server = 0  # ... that the server closed (evicted, timed out)
        self.peak_open = 0         # most connections this side held at once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idle-flood", daemon=True)
        self._limits = resource.getrlimit(resource.RLIMIT_NOFILE)

    def __enter__(self) -> "IdleFlood":
        soft, hard = self._limits
        wanted = self.connections + 256
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        resource.setrlimit(resource.RLIMIT_NOFILE, self._limits)

    def _connect(self, selector: selectors.BaseSelector) -> bool:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", self.port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            return False
        selector.register(sock, selectors.EVENT_WRITE, data=False)   # data: established yet
        self.opened += 1
        return True

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            began = time.monotonic()
            try:
                while not self._stop.is_set():
                    allowed = min(self.max_opened, int((time.monotonic() - began) * self.per_second))
                    while (len(selector.get_map()) < self.connections and self.opened < allowed
                           and self._connect(selector)):
                        pass
                    self.peak_open = max(self.peak_open, len(selector.get_map()))
                    for key, _ in selector.select(0.01):
                        self._event(selector, key)
            finally:
                for key in list(selector.get_map().values()):
                    key.fileobj.close()

    def _event(self, selector: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        sock = key.fileobj
        if not key.data and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            self.established += 1       # connected: from now on, wait for the server to close it
            selector.modify(sock, selectors.EVENT_READ, data=True)
            return
        try:
            data = sock.recv(1) if key.data else b""
        except OSError:
            data = b""
        if not data:     # closed by the server, or refused: replace it on the next round
            selector.unregister(sock)
            sock.close()
            self.closed_by_server += 1

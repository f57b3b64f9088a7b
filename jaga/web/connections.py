"""The listener's connections, bounded, so no client can starve replication of descriptors or threads.

``http.server``'s threading server accepts without limit and waits on a silent client forever: under
systemd's 1,024-descriptor limit about a thousand idle connections used every descriptor, and the
targets went down with "Too many open files". Here:

- at most ``limit`` connections are open at once, and ``limit`` is a small share of RLIMIT_NOFILE
  (FD_SHARE), so the rest stays for the journal, the targets and the scans whatever clients do;
- beyond that, connections wait in the kernel's listen backlog, which costs jaga no descriptor;
- every read and write times out (IO_TIMEOUT) and every connection is closed DEADLINE seconds after
  it was accepted, however slowly it dribbles its request in;
- at the limit, a new connection evicts the oldest one that has not sent a byte yet (or, failing that,
  one still sending its request after SLOW seconds), so a flood of idle connections cannot lock out
  a scrape or a health check.
"""

from __future__ import annotations

import logging
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("jaga.web")

MAX_CONNECTIONS = 64
FD_SHARE = 8          # the listener holds at most 1/8 of the process's descriptors
BACKLOG = 128
IO_TIMEOUT = 10.0     # seconds a connection may stay silent (handshake, request, reading our answer)
DEADLINE = 30.0       # seconds a connection may live, whatever it does
SLOW = 2.0            # seconds after which a connection still sending its request may be evicted
TICK = 0.5


def connection_limit(wanted: int = MAX_CONNECTIONS) -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(4, min(wanted, soft // FD_SHARE))


class Connection:
    """One accepted socket: ``talking`` once its first byte arrived, ``busy`` once its whole request did."""

    __slots__ = ("sock", "peer", "accepted_at", "talking", "busy")

    def __init__(self, sock: socket.socket, peer: tuple):
        self.sock, self.peer, self.accepted_at = sock, peer, time.monotonic()
        self.talking = self.busy = False

    def abort(self) -> None:
        """Wake the thread blocked on this socket (it then closes it); safe from any thread."""
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)   # the raw socket's, also under TLS
        except OSError:
            pass


class BoundedListener:
    def __init__(self, address: tuple[str, int], serve: Callable[[Connection], None],
                 limit: int | None = None, io_timeout: float = IO_TIMEOUT, deadline: float = DEADLINE,
                 metrics=None):
        """``metrics``: a jaga.metrics.ListenerMetrics, or None."""
        self.limit = limit or connection_limit()
        self.metrics = metrics
        self.io_timeout, self.deadline = io_timeout, deadline
        self._serve = serve
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._sock = socket.create_server(address, family=family, backlog=BACKLOG)
        self._sock.setblocking(False)
        self._pool = ThreadPoolExecutor(max_workers=self.limit, thread_name_prefix="web")
        self._open: dict[int, Connection] = {}
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._wake, self._waker = socket.socketpair()   # stop() writes to _waker to end the select at once
        self._thread = threading.Thread(target=self._accept_loop, name="web-accept", daemon=True)
        self.evicted = 0
        self._accept_failed_at = 0.0
        if metrics is not None:
            metrics.limit.set(self.limit)

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()[:2]

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._waker.send(b"x")
        self._thread.join(5)
        with self._changed:
            for conn in self._open.values():
                conn.abort()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for sock in (self._sock, self._wake, self._waker):
            sock.close()

    # -- accepting ------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                self._expire()
                ready = selector.select(TICK)
                if any(key.fileobj is self._sock for key, _ in ready) and self._make_room():
                    self._accept()

    def _accept(self) -> None:
        try:
            sock, peer = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:   # EMFILE, ENFILE, ENOBUFS: leave it in the backlog and try again
            if time.monotonic() - self._accept_failed_at > 60:
                log.warning("cannot accept a connection: %s", exc.strerror or exc)
            self._accept_failed_at = time.monotonic()
            self._stopping.wait(TICK)
            return
        sock.settimeout(self.io_timeout)
        conn = Connection(sock, peer)
        with self._changed:
            self._open[id(conn)] = conn
            self._count()
        self._pool.submit(self._run, conn)

    def _make_room(self) -> bool:
        """True when a slot is free, after evicting an idle connection if need be."""
        with self._changed:
            if len(self._open) < self.limit:
                return True
            victim = self._idlest()
            if victim is not None:
                victim.abort()
                self.evicted += 1
                if self.metrics is not None:
                    self.metrics.evicted.inc()
            self._changed.wait_for(lambda: len(self._open) < self.limit, TICK)
            return len(self._open) < self.limit

    def _idlest(self) -> Connection | None:
        """The oldest connection that has sent nothing yet; else the oldest one still sending its request
        after SLOW seconds (a TLS handshake over a slow link is not cut for a flood of silent ones)."""
        waiting = [conn for conn in self._open.values() if not conn.busy]
        silent = [conn for conn in waiting if not conn.talking]
        slow = [conn for conn in waiting if time.monotonic() - conn.accepted_at > SLOW]
        candidates = silent or slow
        return min(candidates, key=lambda conn: conn.accepted_at) if candidates else None

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.deadline
        with self._changed:
            for conn in self._open.values():
                if conn.accepted_at < cutoff:
                    conn.abort()

    # -- serving --------------------------------------------------------------------------------

    def _run(self, conn: Connection) -> None:
        try:
            self._serve(conn)
        except (OSError, ValueError) as exc:   # timeouts, resets, aborts, TLS failures: the client's problem
            log.debug("connection from %s ended: %s", conn.peer[0], exc)
        except Exception:
            log.exception("error serving a connection from %s", conn.peer[0])
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass
            with self._changed:
                self._open.pop(id(conn), None)
                self._count()
                self._changed.notify_all()

    def _count(self) -> None:
        if self.metrics is not None:
            self.metrics.connections.set(len(self._open))

"""The HTTP(S) listener: /metrics, /healthz, /readyz, /api/status and the status page at /.

Connections are bounded (jaga.web.connections); TLS and basic auth come from the web config
(jaga.web.webconfig). With basic auth configured every path answers 401 without the right
credentials; whoever is not authenticated sees no disk serial numbers (jaga.web.redact).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
from http.server import BaseHTTPRequestHandler

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jaga.web.connections import BoundedListener, Connection
from jaga.web.health import health, live_status, readiness
from jaga.web.redact import redacted
from jaga.web.source import StatusSource
from jaga.web.webconfig import OPEN, WebSecurity

log = logging.getLogger("jaga.web")
TLS_HANDSHAKE = 0x16   # the first byte of a TLS ClientHello
PLAIN_TO_TLS = (b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                b"Client sent an HTTP request to an HTTPS server.\n")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(address: tuple[str, int], security: WebSecurity) -> str | None:
    """Why this listener is open to more than this machine without TLS or authentication, if it is."""
    if is_loopback(address[0]):
        return None
    where = f"the listener on {address[0] or '*'}:{address[1]} is reachable beyond this machine"
    if security.tls is None:
        return f"{where} without TLS or authentication; set metrics.web_config (see docs/monitoring.md)"
    if security.users is None and security.tls.verify_mode != ssl.CERT_REQUIRED:
        return f"{where} without authentication; add basic_auth_users or client_ca_file to {security.source}"
    return None


class WebServer:
    def __init__(self, address: tuple[str, int], source: StatusSource, security: WebSecurity = OPEN,
                 metrics=None, **limits):
        """``metrics``: a jaga.metrics.ListenerMetrics or None; ``limits``: BoundedListener's ``limit``,
        ``io_timeout`` and ``deadline``, for tests."""
        self.source = source
        self.security = security            # replaced whole by reconfigure(): each request reads it once
        self.metrics = metrics
        self._listener = BoundedListener(address, self._serve, metrics=metrics, **limits)

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.address

    @property
    def listener(self) -> BoundedListener:
        return self._listener

    @property
    def warning(self) -> str | None:
        return exposure_warning(self.address, self.security)

    def start(self) -> None:
        self._listener.start()

    def stop(self) -> None:
        self._listener.stop()

    def reconfigure(self, security: WebSecurity) -> None:
        """SIGHUP: new certificates, users or headers apply to the next connection."""
        self.security = security

    def _serve(self, conn: Connection) -> None:
        security = self.security
        verified_peer = False
        first = conn.sock.recv(1, socket.MSG_PEEK)
        if not first:
            return
        conn.talking = True
        if security.tls is not None:
            if first[0] != TLS_HANDSHAKE:   # read the request first: closing on unread bytes resets the answer
                conn.sock.recv(65536)
                conn.sock.sendall(PLAIN_TO_TLS)
                conn.sock.shutdown(socket.SHUT_WR)
                return
            conn.sock = security.tls.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
            try:
                conn.sock.do_handshake()
            except ssl.SSLError as exc:
                log.debug("TLS handshake with %s failed: %s", conn.peer[0], exc.reason or exc)
                return
            verified_peer = security.client_certificates and bool(conn.sock.getpeercert())
        _Handler(conn.sock, conn.peer, _Exchange(self.source, security, conn, verified_peer,
                                                 exposure_warning(self.address, security), self.metrics))


class _Exchange:
    """What one connection's handler needs (http.server passes it as ``server``)."""

    def __init__(self, source: StatusSource, security: WebSecurity, conn: Connection, verified_peer: bool,
                 notice: str | None, metrics):
        self.source, self.security, self.conn = source, security, conn
        self.verified_peer, self.notice, self.metrics = verified_peer, notice, metrics


class _Handler(BaseHTTPRequestHandler):
    server: _Exchange
    server_version = "jaga"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.conn.busy = True
        security = self.server.security
        authenticated = self.server.verified_peer
        if security.users is not None:
            if security.users.check(self.headers.get("Authorization")) is None:
                if self.server.metrics is not None:
                    self.server.metrics.unauthorized.inc()
                self._send(401, b"unauthorized\n", "text/plain", [("WWW-Authenticate", 'Basic realm="jaga"')])
                return
            authenticated = True
        source = self.server.source if authenticated else redacted(self.server.source)
        path = self.path.split("?", 1)[0]
        try:
            self._route(path, source)
        except Exception:
            log.exception("error serving %s", path)
            self._send(500, b"internal error\n", "text/plain")

    def _route(self, path: str, source: StatusSource) -> None:
        if path == "/metrics":
            self._send(200, generate_latest(source.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._json(*health(source))
        elif path == "/readyz":
            self._json(*readiness(source))
        elif path == "/api/status":
            self._json(200, live_status(source))
        elif path == "/":
            from jaga.web.page import render_status_page
            page = render_status_page(source, self.server.notice, self.headers.get("Accept-Language"))
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _json(self, status: int, body: dict) -> None:
        self._send(status, json.dumps(body, indent=1).encode() + b"\n", "application/json")

    def _send(self, status: int, body: bytes, content_type: str, extra: list | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in [*self.server.security.headers, *(extra or [])]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

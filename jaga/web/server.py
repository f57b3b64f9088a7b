"""A small threaded HTTP server; loopback unless the config says otherwise."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jaga.web.health import health, live_status, readiness
from jaga.web.source import StatusSource

log = logging.getLogger("jaga.web")


class WebServer:
    def __init__(self, address: tuple[str, int], source: StatusSource):
        handler = type("Handler", (_Handler,), {"source": source})
        self._server = ThreadingHTTPServer(address, handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    source: StatusSource = None  # set per server by WebServer
    server_version = "jaga"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                self._send(200, generate_latest(self.source.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._json(*health(self.source))
            elif path == "/readyz":
                self._json(*readiness(self.source))
            elif path == "/api/status":
                self._json(200, live_status(self.source))
            elif path == "/":
                from jaga.web.page import render_status_page
                self._send(200, render_status_page(self.source).encode(), "text/html; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain")
        except Exception:
            log.exception("error serving %s", path)
            self._send(500, b"internal error\n", "text/plain")

    def _json(self, status: int, body: dict) -> None:
        self._send(status, json.dumps(body, indent=1).encode() + b"\n", "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

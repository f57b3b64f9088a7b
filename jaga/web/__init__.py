"""The HTTP listener: /metrics, /healthz, /readyz and the status page at /."""

from jaga.web.server import WebServer

__all__ = ["WebServer"]

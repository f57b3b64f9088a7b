"""kill -9 jaga under a real Prometheus (the shipped rules) and Alertmanager: how long until JagaDown
fires and reaches the receiver, and whether a firing TargetDown is ever told "resolved" meanwhile.

Shared by tests/test_paging.py (the rules' ``for:`` scaled down, so it runs in seconds) and
bench/alerting.py (the shipped rules unchanged, for the figure in the docs).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from tests.harness import REPO, Deployment, wait_for
from tests.servers.prometheus import Alertmanager, Prometheus

RULES = REPO / "deploy" / "prometheus" / "jaga-rules.yml"
INHIBIT = REPO / "deploy" / "alertmanager" / "jaga-inhibit.yml"


class Receiver:
    """Alertmanager's webhook receiver: every (arrival time, status, alertname) it was sent."""

    def __init__(self):
        self.events: list[tuple[float, str, str]] = []
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.monotonic()
                events.extend((now, alert["status"], alert["labels"]["alertname"]) for alert in body["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, status: str, alertname: str) -> float | None:
        return next((t for t, s, name in self.events if s == status and name == alertname), None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class PagingResult:
    jagadown_firing_s: float          # kill -9 → JagaDown firing in Prometheus
    jagadown_received_s: float        # kill -9 → JagaDown delivered by Alertmanager to the receiver
    targetdown_resolved: list[str] = field(default_factory=list)   # where a TargetDown "resolved" was seen


def scaled_rules(folder: Path, scale: dict[str, str] | None) -> Path:
    """The shipped rules, with ``for:`` durations replaced per ``scale`` (None: unchanged)."""
    text = RULES.read_text()
    for before, after in (scale or {}).items():
        text = re.sub(rf"\bfor: {before}\b", f"for: {after}", text)
    path = folder / "jaga-rules.yml"
    path.write_text(text)
    return path


def kill_and_measure(folder: Path, scale: dict[str, str] | None = None, watch_after: float = 15.0,
                     timeout: float = 240.0, interval: str = "1s") -> PagingResult:
    """Run the whole scenario in ``folder``; every process it starts is stopped before it returns."""
    receiver = Receiver()
    am = prometheus = jaga = None
    try:
        inhibit = yaml.safe_load(INHIBIT.read_text())["inhibit_rules"]
        am = Alertmanager(folder / "am", receiver.url, inhibit)
        jaga = Deployment(folder / "jaga", targets=[{"name": "secondary", "type": "local", "path": "replica"},
                                                    {"name": "usb", "type": "local", "path": "usb"}])
        jaga.doc["logging"] = {"level": "info"}
        jaga.write_config()
        jaga.start()
        wait_for(lambda: (jaga.base / "usb" / ".jaga-target").exists(), message="usb initialised")
        shutil.rmtree(jaga.base / "usb")   # the replica disk fell off: TargetDown
        prometheus = Prometheus(folder / "prometheus", [f"127.0.0.1:{jaga.port}"], scaled_rules(folder, scale),
                                am.url, interval)
        wait_for(lambda: receiver.first("firing", "TargetDown"), timeout, 0.2, "TargetDown paged before the kill")

        jaga.kill()   # SIGKILL
        killed = time.monotonic()
        resolved: list[str] = []
        firing_at = None
        while time.monotonic() - killed < timeout:
            states = {(a["labels"]["alertname"], a["state"]) for a in prometheus.alerts()}
            if firing_at is None and ("JagaDown", "firing") in states:
                firing_at = time.monotonic()
            if ("TargetDown", "firing") not in states:
                resolved.append(f"Prometheus at +{time.monotonic() - killed:.1f}s: {sorted(states)}")
            if receiver.first("resolved", "TargetDown"):
                resolved.append("Alertmanager sent TargetDown resolved")
            received = receiver.first("firing", "JagaDown")
            if firing_at and received and time.monotonic() - max(firing_at, received) >= watch_after:
                break
            time.sleep(0.25)
        else:
            raise AssertionError(f"JagaDown not paged within {timeout}s of kill -9 (fired: {firing_at is not None})")
        return PagingResult(firing_at - killed, received - killed, resolved)
    finally:
        for server in (prometheus, am):
            if server is not None:
                server.stop()
        receiver.close()

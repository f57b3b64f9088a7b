"""Monitor test helpers: the recordings folder, a per-test fake smartctl, local receivers, configs."""

from __future__ import annotations

import json
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.harness import RECORDINGS, REPO, wait_for  # noqa: F401 (part of these helpers)

FAKE = REPO / "tests" / "fakes" / "smartctl"


class FakeSmartctl:
    """A wrapper script replaying one recording folder; its plan can change between polls."""

    def __init__(self, tmp: Path, recordings: Path):
        self.recordings = recordings
        self.plan_file = tmp / "fake-plan.json"
        self.log = tmp / "fake-calls.log"
        self.path = tmp / "smartctl"
        self.plan: dict = {"folder": "", "log": str(self.log)}
        self.path.write_text(f'#!/bin/sh\nJAGA_FAKE_SMARTCTL_PLAN="{self.plan_file}" exec "{sys.executable}" '
                             f'"{FAKE}" "$@"\n')
        self.path.chmod(self.path.stat().st_mode | stat.S_IEXEC)

    def use(self, folder: str, **options) -> "FakeSmartctl":
        self.plan = {"folder": str(self.recordings / folder), "log": str(self.log), **options}
        self.plan_file.write_text(json.dumps(self.plan))
        return self

    def update(self, **options) -> None:
        self.plan.update(options)
        self.plan_file.write_text(json.dumps(self.plan))

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


class WebhookSink:
    """A local HTTP receiver; ``fail_first`` requests get a 500 to exercise retries."""

    def __init__(self, fail_first: int = 0):
        self.received: list[dict] = []
        self.fail_first = fail_first
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if sink.fail_first > 0:
                    sink.fail_first -= 1
                    self.send_response(500)
                else:
                    sink.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def named(self, name: str, status: str | None = None) -> list[dict]:
        return [n for n in self.received if n["name"] == name and (status is None or n["status"] == status)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_config(tmp_path: Path, fake: FakeSmartctl | None, devices="auto", webhook_url: str | None = None,
                **smart):
    from jaga.config import parse_config
    for name in ("uploads", "replica"):
        (tmp_path / name).mkdir(exist_ok=True)
    data = {
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.db'}"},
        "watch": [{"path": str(tmp_path / "uploads")}],
        "targets": [{"name": "secondary", "type": "local", "path": str(tmp_path / "replica")}],
        "monitor": {"smart": {"smartctl": str(fake.path) if fake else "no-such-smartctl", "devices": devices,
                              "timeout": 5, **smart}},
        "alerts": {"notify": [{"webhook": webhook_url}] if webhook_url else [], "notify_backoff": 0.05},
    }
    return parse_config(data, base=tmp_path)

"""The web endpoints read a status source, not the daemon: here one built by hand, served for real."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, Gauge

from jaga.web import WebServer
from jaga.web.health import STALL_LIMIT
from journal.records import ScrubRecord


@dataclass
class Status:
    """A StatusSource with fixed answers (jaga.web.source)."""

    language: str = "en"
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    age: float = 0.5
    problem: str | None = None
    targets: dict = field(default_factory=lambda: {"secondary": {
        "up": True, "down_reason": None, "pending": 0, "oldest_pending_seconds": 0.0, "consecutive_errors": 0}})
    watch: list = field(default_factory=list)
    scrubs: dict = field(default_factory=dict)
    coverage: list = field(default_factory=list)
    fleet: list = field(default_factory=list)

    def heartbeat_age(self): return self.age
    def journal_problem(self): return self.problem
    def replication_status(self): return self.targets
    def watch_problems(self): return self.watch
    def firing_alerts(self): return []
    def disk_summary(self): return []
    def filesystem_summary(self): return []
    def coverage_summary(self): return self.coverage
    def intake_summary(self): return (3, 3), (7, 6)
    def last_scrub(self, target): return self.scrubs.get(target)
    def fleet_summary(self): return self.fleet


@pytest.fixture
def serve():
    servers = []

    def start(source: Status):
        server = WebServer(("127.0.0.1", 0), source)
        server.start()
        servers.append(server)
        return lambda path: get(server.address, path)

    yield start
    for server in servers:
        server.stop()


def get(address, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_stalled_loop_fails_healthz_and_readyz_gives_every_reason(serve):
    source = Status(age=STALL_LIMIT + 1, problem="disk I/O error", watch=["/srv/uploads is nearly full (1% free)"])
    Gauge("jaga_example", "a metric of the source's own registry", registry=source.registry).set(4)
    fetch = serve(source)
    code, body = fetch("/healthz")
    assert (code, json.loads(body)["status"]) == (503, "stalled")
    source.age = STALL_LIMIT - 1
    assert fetch("/healthz")[0] == 200
    code, body = fetch("/readyz")
    assert code == 503
    assert json.loads(body)["reasons"] == ["journal not writable: disk I/O error",
                                           "/srv/uploads is nearly full (1% free)"]
    assert json.loads(fetch("/api/status")[1])["targets"] == source.targets
    assert "jaga_example 4.0" in fetch("/metrics")[1]


def test_the_page_shows_a_damaging_scrub_in_the_configured_language(serve):
    damaged = ScrubRecord("secondary", 1.0, 2.0, checked=5, bytes_read=50, missing=0, corrupt=1, unexpected=0)
    code, page = serve(Status(language="id", scrubs={"secondary": damaged}))("/")
    assert code == 200
    row = page.split("data-target='secondary'")[1].split("</tr>")[0]
    assert "(5)" in row and "ada kerusakan" in row
    assert "id='intake-week'>7<" in page and "Siap menerima unggahan" in page


def test_the_page_and_api_show_the_fleet_when_servers_share_the_journal(serve):
    fleet = [{"name": "srv-a", "host": "a.example", "state": "running", "heartbeat_age_seconds": 2.0, "backlog": 0},
             {"name": "srv-b", "host": "b.example", "state": "silent", "heartbeat_age_seconds": 600.0, "backlog": 7}]
    fetch = serve(Status(fleet=fleet))
    code, page = fetch("/")
    assert code == 200
    assert "data-node='srv-b' data-state='silent'" in page and ">silent<" in page and "10m" in page, page
    assert json.loads(fetch("/api/status")[1])["fleet"] == fleet
    alone = serve(Status(fleet=fleet[:1]))("/")[1]
    assert "id='fleet'" not in alone, "a single server shows no fleet section"

"""The running daemon as the web endpoints see it (a ``jaga.web.source.StatusSource``)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from journal import JournalError
from journal.records import ScrubRecord

if TYPE_CHECKING:
    from jaga.daemon import Daemon

INTAKE_CACHE = 30.0   # seconds: the page refreshes every 15 s, the intake query reads a week
FLEET_CACHE = 10.0    # seconds: nodes beat every 5 s
JOURNAL_PROBE = 5.0   # seconds between real test writes, however often /readyz is asked


class DaemonStatus:
    def __init__(self, daemon: Daemon):
        self._daemon = daemon   # read at each call: a reload replaces its targets and config
        self._intake_cache: tuple[float, tuple] | None = None   # (monotonic when, value)
        self._journal_probe: tuple[float, str | None] = (float("-inf"), None)
        self._fleet_cache: tuple[float, list] | None = None

    @property
    def language(self) -> str:
        return self._daemon.config.ui.language

    @property
    def registry(self):
        return self._daemon.registry

    def heartbeat_age(self) -> float:
        return self._daemon.heartbeat_age()

    def replication_status(self) -> dict[str, dict]:
        return self._daemon.replication_status()

    def watch_problems(self) -> list[str]:
        """A watch root not watched now, then the monitor's (disk failing, filesystem full, ...)."""
        return self._daemon.ingest.watch_problems() + self._from_monitor("watch_problems")

    def firing_alerts(self) -> list[dict]:
        return self._from_monitor("firing_alerts")

    def disk_summary(self) -> list[dict]:
        return self._from_monitor("disk_summary")

    def filesystem_summary(self) -> list[dict]:
        return self._from_monitor("filesystem_summary")

    def coverage_summary(self) -> list[dict]:
        return self._from_monitor("coverage_summary")

    def _from_monitor(self, summary: str) -> list:
        """Empty until the monitor has started (the web starts after it; `jaga sync` runs none)."""
        monitor = self._daemon.monitor
        return getattr(monitor, summary)() if monitor is not None else []

    def last_scrub(self, target: str) -> ScrubRecord | None:
        return self._daemon.journal.last_scrub(target)

    def fleet_summary(self) -> list[dict]:
        """Cached like the intake: the page refreshes every 15 s, every node reads the same rows."""
        if self._fleet_cache and time.monotonic() - self._fleet_cache[0] < FLEET_CACHE:
            return self._fleet_cache[1]
        from jaga.status import collect_fleet
        try:
            nodes = [{"name": n["name"], "host": n["host"], "state": n["state"],
                      "heartbeat_age_seconds": n["heartbeat_age_seconds"],
                      "backlog": sum(b["pending"] + b["failed"] for b in n["backlog"].values())}
                     for n in collect_fleet(self._daemon.journal)]
        except JournalError:
            return []
        self._fleet_cache = (time.monotonic(), nodes)
        return nodes

    def journal_problem(self) -> str | None:
        """Probed at most every JOURNAL_PROBE seconds, so a load balancer asking /readyz per request
        does not become a write per request."""
        now = time.monotonic()
        checked_at, problem = self._journal_probe
        if now - checked_at >= JOURNAL_PROBE:
            try:
                self._daemon.journal.ping()
                problem = None
            except JournalError as exc:
                problem = str(exc)
            self._journal_probe = (now, problem)
        return problem

    def intake_summary(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(files, safe everywhere) for today and the last 7 days; cached so the page stays cheap."""
        if self._intake_cache and time.monotonic() - self._intake_cache[0] < INTAKE_CACHE:
            return self._intake_cache[1]
        now = time.time()
        midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        today, week = [0, 0], [0, 0]
        for _node, _watch, _path, _number, _size, completed_at, everywhere in \
                self._daemon.journal.intake(now - 7 * 86400, None):
            for bucket, since in ((today, midnight), (week, now - 7 * 86400)):
                if completed_at >= since:
                    bucket[0] += 1
                    bucket[1] += 1 if everywhere else 0
        result = (tuple(today), tuple(week))
        self._intake_cache = (time.monotonic(), result)
        return result

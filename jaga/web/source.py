"""What the web endpoints read: a small typed status source, not the whole daemon.

The running daemon provides one (``jaga.livestatus.DaemonStatus``); a test can build its own.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry

from journal.records import ScrubRecord


class StatusSource(Protocol):
    language: str                  # the status page's language (`ui.language`)
    registry: CollectorRegistry    # what /metrics serves

    def heartbeat_age(self) -> float:
        """Seconds since the slowest main loop (ingest, each replicator) last turned."""

    def journal_problem(self) -> str | None:
        """Why the journal cannot take a write now; None when it can."""

    def replication_status(self) -> dict[str, dict]:
        """Per target: up, down_reason, pending, oldest_pending_seconds, consecutive_errors."""

    def watch_problems(self) -> list[str]:
        """Why a watched folder cannot safely take uploads now (full, read-only, failing disk)."""

    def firing_alerts(self) -> list[dict]: ...

    def disk_summary(self) -> list[dict]: ...

    def filesystem_summary(self) -> list[dict]: ...

    def coverage_summary(self) -> list[dict]:
        """Per folder and disk: does SMART watch it, and why not (monitor.coverage); empty until known."""

    def intake_summary(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(files, safe on every target) for today and for the last 7 days."""

    def last_scrub(self, target: str) -> ScrubRecord | None: ...

    def fleet_summary(self) -> list[dict]:
        """Every node sharing the journal: name, host, state (running, silent, stopped), heartbeat age,
        backlog (open replicas of its files); one entry for a single server."""

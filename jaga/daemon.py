"""Wiring: journal, targets and their replicators, ingest, scheduler, HTTP endpoints, signals."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry

from ingest.events import Hint
from ingest.pipeline import Ingest, WatchRoot
from ingest.rules import IgnoreRules
from jaga.config import Config
from jaga.metrics import Metrics
from journal import Journal, JournalError
from replication.factory import build_target
from replication.worker import TargetReplicator

log = logging.getLogger("jaga.daemon")
STATS_INTERVAL = 2.0


class Daemon:
    def __init__(self, config: Config, registry: CollectorRegistry | None = None):
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics(self.registry)
        self.journal = Journal(config.journal.url, config.retry.initial, config.retry.maximum)
        self.roots = {w.label: os.fsencode(w.path) for w in config.watch}
        self.replicators = {
            t.name: TargetReplicator(build_target(t), self.journal, self.roots, self.metrics, t.workers,
                                     on_changed=self._changed)
            for t in config.targets}
        self.ingest = Ingest([WatchRoot(w.label, os.fsencode(w.path), IgnoreRules(tuple(w.ignore)))
                              for w in config.watch],
                             self.journal, list(self.replicators), config.ingest.settle, self.metrics,
                             on_recorded=self._wake_replicators)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.started_at = time.time()
        self.stop_requested = threading.Event()
        self.web = None
        self.monitor = None
        self.backlog: dict[str, tuple[int, float]] = {name: (0, 0.0) for name in self.replicators}

    # -- start / stop ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Migrate the journal and undo what a crash left half-done. Shared by run and sync."""
        self.journal.migrate()
        reset = self.journal.reset_copying()
        if reset:
            log.info("%d copy(ies) were in flight when jaga last stopped; they start again", reset)
        self.metrics.declare(list(self.roots), list(self.replicators))
        self.metrics.up_since.set(self.started_at)

    def start(self) -> None:
        self.prepare()
        for replicator in self.replicators.values():
            replicator.start()
        self.ingest.start()
        self.ingest.reconcile_in_background("startup")
        self.scheduler.add_job(self.ingest.reconcile_in_background, "interval",
                               seconds=self.config.ingest.reconcile_interval, args=["periodic"],
                               id="reconcile", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.refresh_stats, "interval", seconds=STATS_INTERVAL, id="stats",
                               max_instances=1, coalesce=True, next_run_time=_now())
        self.scheduler.start()
        self._start_web()
        log.info("jaga started: watching %s; targets %s", ", ".join(self.roots), ", ".join(self.replicators))

    def _start_web(self) -> None:
        from jaga.web import WebServer
        self.web = WebServer(self.config.metrics.address, self)
        self.web.start()
        log.info("metrics and status on http://%s:%d/", *self.web.address)

    def stop(self) -> None:
        log.info("stopping")
        self.scheduler.shutdown(wait=False)
        self.ingest.stop()
        for replicator in self.replicators.values():
            replicator.stop()
        if self.web is not None:
            self.web.stop()
        self.journal.close()
        log.info("stopped")

    def run_forever(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop_requested.set())
        self.start()
        try:
            while not self.stop_requested.wait(1.0):
                pass
        finally:
            self.stop()

    # -- one pass -------------------------------------------------------------------------------

    def sync_once(self, timeout: float = 3600.0) -> bool:
        """Reconcile, wait for settling files, replicate and verify everything due; True if all verified."""
        self.prepare()
        self.ingest.start()
        try:
            self.ingest.reconcile("sync")
            self.ingest.wait_idle(timeout)
        finally:
            self.ingest.stop()
        deadline = time.monotonic() + timeout
        for replicator in self.replicators.values():
            replicator.drain(deadline)
        return all(self.journal.target_counts(name, include_verified=False).pending == 0
                   and self.journal.target_counts(name, include_verified=False).failed == 0
                   for name in self.replicators)

    # -- callbacks ------------------------------------------------------------------------------

    def _wake_replicators(self) -> None:
        for replicator in self.replicators.values():
            replicator.wake()

    def _changed(self, watch: str, path: bytes) -> None:
        self.ingest.hint(Hint.CHANGING, watch, path)

    def refresh_stats(self) -> None:
        """Backlog gauges, from the (target, state) index: cost follows the backlog, not the journal."""
        now = time.time()
        for name in self.replicators:
            try:
                counts = self.journal.target_counts(name, include_verified=False)
            except JournalError as exc:
                log.warning("cannot read backlog of %s: %s", name, exc)
                return
            age = max(0.0, now - counts.oldest_pending_at) if counts.oldest_pending_at else 0.0
            self.backlog[name] = (counts.pending + counts.failed, age)
            self.metrics.pending.labels(target=name).set(counts.pending + counts.failed)
            self.metrics.oldest_pending.labels(target=name).set(age)

    def replication_status(self) -> dict[str, dict]:
        """Per target: up, backlog, oldest pending age, error run (for alerts and /readyz)."""
        status = {}
        for name, replicator in self.replicators.items():
            status[name] = {
                "up": replicator.up,
                "down_reason": replicator.down_reason,
                "pending": self.backlog[name][0],
                "oldest_pending_seconds": self.backlog[name][1],
                "consecutive_errors": replicator.consecutive_errors,
            }
        return status

    def heartbeat_age(self) -> float:
        return time.time() - self.ingest.last_loop_at


def _now():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)

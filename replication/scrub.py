"""The scheduled scrub: re-read every replica at a gentle rate, record what it found, alert on damage."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge

from journal import Journal
from journal.records import ScrubRecord
from replication.target import Target, TargetDown, TargetError
from replication.verify import expected_from_journal, verify_target

log = logging.getLogger("jaga.scrub")


class ScrubMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.last_run = Gauge("jaga_scrub_last_run_timestamp_seconds", "When the last scrub of a target ended.",
                              ["target"], registry=registry)
        self.checked = Counter("jaga_scrub_files_checked", "Replicas re-read by scrubs.", ["target"],
                               registry=registry)
        self.bytes_read = Counter("jaga_scrub_read_bytes", "Bytes re-read by scrubs.", ["target"],
                                  registry=registry)
        self.problems = Gauge("jaga_scrub_problems", "What the last scrub found wrong, by kind.",
                              ["target", "kind"], registry=registry)


class Scrubber:
    def __init__(self, journal: Journal, metrics: ScrubMetrics, interval: float, rate: float | None,
                 on_result=None):
        self.journal = journal
        self.metrics = metrics
        self.interval = interval
        self.rate = rate
        self._on_result = on_result or (lambda target, run: None)

    def schedule(self, scheduler, targets: dict[str, Target]) -> None:
        """One job per target, the first run one interval after that target's last scrub."""
        for name, target in targets.items():
            last = self.journal.last_scrub(name)
            previous = last.finished_at if last else time.time()
            first = max(time.time() + min(60.0, self.interval), previous + self.interval)
            scheduler.add_job(self.scrub, "interval", seconds=self.interval, args=[target],
                              id=f"scrub-{name}", replace_existing=True, max_instances=1, coalesce=True,
                              next_run_time=datetime.fromtimestamp(first, timezone.utc))

    def scrub(self, target: Target) -> ScrubRecord:
        started = time.time()
        checked = bytes_read = missing = corrupt = unexpected = 0
        error = None
        try:
            report = verify_target(target, expected_from_journal(self.journal, target.name), rate=self.rate)
            checked, bytes_read = report.checked, report.bytes_read
            missing, corrupt, unexpected = len(report.missing), len(report.corrupt), len(report.unexpected)
        except (TargetDown, TargetError) as exc:
            error = str(exc)
            log.warning("scrub of %s could not finish: %s", target.name, exc)
        run = ScrubRecord(target.name, started, time.time(), checked, bytes_read, missing, corrupt, unexpected,
                          error)
        self.journal.record_scrub(run)
        self._export(run)
        log.info("scrub of %s: %d checked, %d missing, %d corrupt, %d unexpected", target.name, run.checked,
                 run.missing, run.corrupt, run.unexpected)
        self._on_result(target.name, run)
        return run

    def _export(self, run: ScrubRecord) -> None:
        name = run.target
        self.metrics.last_run.labels(target=name).set(run.finished_at)
        self.metrics.checked.labels(target=name).inc(run.checked)
        self.metrics.bytes_read.labels(target=name).inc(run.bytes_read)
        for kind in ("missing", "corrupt", "unexpected"):
            self.metrics.problems.labels(target=name, kind=kind).set(getattr(run, kind))

"""The monitor as the daemon runs it: scheduled SMART and filesystem polls, alerts, metrics, summaries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from journal import Journal
from journal.records import ScrubRecord
from monitor import conditions
from monitor.alerts import AlertManager
from monitor.coverage import Coverage, smart_coverage
from monitor.filesystems import FilesystemStat, FillTrend, stat_path
from monitor.metrics import MonitorMetrics
from monitor.notify import Dispatcher, build_notifiers
from monitor.report import DiskReport
from monitor.selftests import SelfTestScheduler
from monitor.smart import PollResult, SmartPoller

log = logging.getLogger(__name__)
JOB_IDS = ("jaga-monitor-smart", "jaga-monitor-filesystems", "jaga-monitor-targets")


class Monitor:
    def __init__(self, config, journal: Journal, registry: CollectorRegistry,
                 replication_status: Callable[[], dict[str, dict]], extra_paths: list[Path] = (),
                 clock: Callable[[], float] = time.time):
        self.journal = journal
        self.replication_status = replication_status
        self.clock = clock
        self.extra_paths = list(extra_paths)
        self.metrics = MonitorMetrics(registry)
        self._smart_lock = threading.Lock()
        self._last_poll: PollResult | None = None
        self._filesystems: list[FilesystemStat] = []
        self._coverage: list[Coverage] = []
        self._polls = 0
        self._scheduler = None
        self._configure(config)

    def _configure(self, config) -> None:
        """Everything that follows from the config; metrics and what was seen so far are kept."""
        self.config = config
        self.paths = watched_paths(config, self.extra_paths)
        self.poller = SmartPoller(config.monitor.smart, self.journal, self.clock)
        self.selftests = SelfTestScheduler(config.monitor.smart.selftests, self.journal, self.poller.runner)
        self.dispatcher = Dispatcher(build_notifiers(config.alerts.notify), config.alerts,
                                     on_result=self.metrics.count_notification)
        self.alerts = AlertManager(self.journal, self.dispatcher, config.alerts.repeat_interval, self.clock)
        self.trend = FillTrend(config.monitor.filesystems.trend_window)

    def reconfigure(self, config) -> None:
        """SIGHUP: new thresholds, devices, notifiers and schedules; firing alerts carry on."""
        scheduler = self._scheduler
        self.stop()
        with self._smart_lock:
            self._configure(config)
        if scheduler is not None:
            self.start(scheduler)

    # -- scheduling -----------------------------------------------------------------------------

    def start(self, scheduler) -> None:
        """Add the monitor's jobs to a running APScheduler 3 scheduler; SMART and space run at once."""
        self._scheduler = scheduler
        now = _scheduler_now(scheduler)
        common = {"max_instances": 1, "coalesce": True, "replace_existing": True, "misfire_grace_time": None}
        if self.config.monitor.smart.enabled:
            scheduler.add_job(self._safe(self.poll_disks_now), "interval", id=JOB_IDS[0], next_run_time=now,
                              seconds=self.config.monitor.smart.interval, **common)
        scheduler.add_job(self._safe(self.poll_filesystems_now), "interval", id=JOB_IDS[1], next_run_time=now,
                          seconds=self.config.monitor.filesystems.interval, **common)
        scheduler.add_job(self._safe(self.evaluate_targets), "interval", id=JOB_IDS[2],
                          seconds=self.config.alerts.evaluate_every, **common)

    def stop(self) -> None:
        if self._scheduler is not None:
            for job_id in JOB_IDS:
                try:
                    self._scheduler.remove_job(job_id)
                except Exception:  # noqa: BLE001 - already gone or scheduler shut down
                    pass
        self.dispatcher.close()

    @staticmethod
    def _safe(job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except Exception:  # noqa: BLE001 - one bad poll must not kill the schedule
                log.exception("monitor job %s failed", job.__name__)
        run.__name__ = job.__name__
        return run

    # -- the three jobs ---------------------------------------------------------------------------

    def poll_disks_now(self) -> list[DiskReport]:
        """Poll SMART now (jobs and callers never overlap), alert, export; return the reports."""
        with self._smart_lock:
            result = self.poller.poll()
            self._polls += 1
            self.selftests.run(result.reports, result.polled_at, first_poll=self._polls == 1)
            self.poller.prune()
            self._last_poll = result
        self.metrics.update_disks(result.reports)
        self._refresh_coverage()
        self.alerts.evaluate("disk:", conditions.disk_conditions(result.reports, result.scan_error))
        self._export_alerts()
        return result.reports

    def poll_filesystems_now(self) -> list[FilesystemStat]:
        now = time.monotonic()  # the trend is a rate: a step of the wall clock must not bend it
        stats = []
        for label, path in self.paths:
            stat = stat_path(label, path)
            if not stat.error:
                stat.time_to_full_seconds = self.trend.add(stat.path, now, stat.free_bytes)
            stats.append(stat)
        self._filesystems = stats
        self.metrics.update_filesystems(stats)
        self._refresh_coverage()
        self.alerts.evaluate("fs:", conditions.filesystem_conditions(stats, self.config.monitor.filesystems))
        self._export_alerts()
        return stats

    def evaluate_targets(self) -> None:
        status = self.replication_status()
        self.alerts.evaluate("target:", conditions.target_conditions(status, self.config.alerts))
        self.alerts.evaluate("node:", conditions.node_conditions(self.journal.nodes(), self.journal.node,
                                                                 self.config.alerts.node_silent, self.clock()))
        self._export_alerts()
        self.dispatcher.refresh(self.alerts.firing_notes())

    def scrub_finished(self, target: str, run: ScrubRecord) -> None:
        """A scheduled scrub of ``target`` ended: damage it found fires, a clean scrub resolves it."""
        self.alerts.evaluate(f"scrub:{target}:", conditions.scrub_conditions(target, run))

    def _refresh_coverage(self) -> None:
        """Known once both a filesystem sample and a SMART poll (or SMART off) are in."""
        enabled, poll = self.config.monitor.smart.enabled, self._last_poll
        if enabled and poll is None:
            return
        self._coverage = smart_coverage(self._filesystems, poll.reports if poll else [],
                                        poll.scan_error if poll else None, enabled)
        self.metrics.update_coverage(self._coverage)

    def _export_alerts(self) -> None:
        self.metrics.update_alerts(self.alerts.firing())

    # -- what the status page, /readyz and `jaga status` show -------------------------------------

    def disk_summary(self) -> list[dict]:
        result = self._last_poll
        return [report.to_json() for report in result.reports] if result else []

    def filesystem_summary(self) -> list[dict]:
        return [stat.to_json() for stat in self._filesystems]

    def firing_alerts(self) -> list[dict]:
        return [record.to_json() for record in self.alerts.firing()]

    def coverage_summary(self) -> list[dict]:
        return [item.to_json() for item in self._coverage]

    def watch_problems(self) -> list[str]:
        """Why a watched folder cannot safely take uploads now; empty when it can (for /readyz)."""
        failing = {r.device: r for r in (self._last_poll.reports if self._last_poll else []) if r.health == "failing"}
        critical = self.config.monitor.filesystems.critical_free_ratio
        problems = []
        for stat in self._filesystems:
            if not stat.label.startswith("watch:"):
                continue
            if stat.error:
                problems.append(f"{stat.path}: {stat.error}")
                continue
            if stat.readonly:
                problems.append(f"{stat.path} is on a read-only filesystem ({stat.mountpoint})")
            if stat.free_ratio < critical:
                problems.append(f"{stat.path} is nearly full ({stat.free_ratio:.1%} free)")
            problems += [f"{stat.path} is on disk {disk}, judged failing: {'; '.join(failing[disk].reasons)}"
                         for disk in stat.disks if disk in failing]
        return problems


def watched_paths(config, extra_paths: list[Path]) -> list[tuple[str, Path]]:
    """Every folder jaga depends on: watch roots, local target roots, the journal's folder, extras."""
    paths = [(f"watch:{watch.label}", Path(watch.path)) for watch in config.watch]
    paths += [(f"target:{target.name}", Path(target.path)) for target in config.targets
              if getattr(target, "type", None) == "local"]
    url = config.journal.url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        paths.append(("journal", Path(url.removeprefix("sqlite:///").split("?")[0]).parent))
    paths += [("extra", Path(p)) for p in [*config.monitor.filesystems.extra_paths, *extra_paths]]
    return paths


def _scheduler_now(scheduler):
    from datetime import datetime
    return datetime.now(scheduler.timezone)

"""A SMART poll: find the devices, read them all at once (bounded), judge them, keep their counters.

``DeviceList`` from pySMART is not used for discovery: it builds devices one after another with
no timeout, drops devices without a capacity line, and crashes on the '# ... open failed' lines of
``--scan-open``. The scan is parsed here and every device is read through ``readers.read_device``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from journal import Journal
from monitor.readers import device_label, read_device
from monitor.report import DiskReport
from monitor.settings import DiskThresholds, SmartConfig
from monitor.smartctl import SmartctlMissing, SmartctlRunner, SmartctlTimeout
from monitor.verdict import counters, judge

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    reports: list[DiskReport]
    scan_error: str | None = None       # smartctl missing or its scan failed: no device could be judged
    polled_at: float = 0.0
    vanished: list[str] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        """The scan worked and every disk it found is judged ok."""
        return not self.scan_error and all(report.health == "ok" for report in self.reports)


class SmartPoller:
    """Polls the configured devices; remembers which ones the scan showed, to notice one vanishing."""

    def __init__(self, config: SmartConfig, journal: Journal | None = None,
                 clock: Callable[[], float] = time.time):
        self.config = config
        self.journal = journal
        self.clock = clock
        self.runner = SmartctlRunner(config.smartctl, config.timeout)
        self.known: dict[str, DiskReport] = {}

    def discover(self) -> list[tuple[str, str | None]]:
        if self.config.devices == "auto":
            return self.runner.scan()
        return [(device.name, device.type) for device in self.config.devices]

    def poll(self) -> PollResult:
        now = self.clock()
        try:
            targets = self.discover()
        except (SmartctlMissing, SmartctlTimeout, OSError) as exc:
            return self._scan_failed(str(exc), now)
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="smart") as pool:
            reports = list(pool.map(lambda target: read_device(self.runner, *target), targets))
        for report in reports:
            report.polled_at = now
            self._judge_and_keep(report)
        vanished = self._vanished(reports, now)
        self.known.update({r.device: r for r in reports if r.error is None})
        return PollResult(reports + vanished, polled_at=now, vanished=[r.device for r in vanished])

    def thresholds_for(self, report: DiskReport) -> DiskThresholds:
        base = self.config.thresholds
        per_device = self.config.per_device
        override = per_device.get(report.device) or per_device.get(report.path) or \
            (report.serial and per_device.get(report.serial))
        if not override:
            return base
        return base.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})

    def _judge_and_keep(self, report: DiskReport) -> None:
        thresholds = self.thresholds_for(report)
        previous = self.journal.latest_samples(report.device) if self.journal and not report.error else {}
        judge(report, thresholds, previous)
        if self.journal and not report.error:
            values = {key: str(value) for key, (_, value) in counters(report, thresholds).items()}
            values["serial"] = report.serial or ""
            self.journal.save_samples(report.device, report.polled_at, values)

    def _vanished(self, reports: list[DiskReport], now: float) -> list[DiskReport]:
        """A device the scan showed before and no longer shows: often the one that is dying."""
        if self.config.devices != "auto":
            return []
        present = {r.device for r in reports}
        gone = []
        for label, last in self.known.items():
            if label in present:
                continue
            error = (f"vanished from the smartctl scan (last seen as {last.model or '?'} serial "
                     f"{last.serial or '?'})")
            gone.append(replace(last, health="unknown", reasons=[error], error=error, polled_at=now,
                                rises=[], exit_status=None, source="none"))
        return gone

    def _scan_failed(self, error: str, now: float) -> PollResult:
        log.warning("SMART scan failed: %s", error)
        if self.config.devices == "auto":
            targets = [(r.path, r.smartctl_type) for r in self.known.values()]
        else:
            targets = [(d.name, d.type) for d in self.config.devices]
        reports = [DiskReport(path=path, device=device_label(path, kind), smartctl_type=kind, health="unknown",
                              reasons=[error], error=error, source="none", polled_at=now)
                   for path, kind in targets]
        return PollResult(reports, scan_error=error, polled_at=now)

    def prune(self) -> None:
        if self.journal:
            self.journal.prune_samples(self.clock() - self.config.sample_retention)


def poll_once(config: SmartConfig) -> PollResult:
    """One poll outside the daemon (`jaga disks`). It reads the journal neither for nor against the
    daemon: no samples are stored, so the daemon's "rose since the previous poll" comparisons stay
    between its own polls."""
    return SmartPoller(config).poll()

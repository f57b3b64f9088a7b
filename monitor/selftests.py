"""Self-test scheduling: short daily and long weekly by default, staggered, never on the first poll.

The drive runs the test in the background; its result lands in the self-test log, which every
poll reads and the verdict judges. When a test was last started is kept as a SMART sample
(``selftest_short_at``/``selftest_long_at``), so a restart does not start every test again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from journal import Journal
from monitor.report import DiskReport
from monitor.settings import SelfTestConfig
from monitor.smartctl import SmartctlRunner

log = logging.getLogger(__name__)
KINDS = ("long", "short")   # a long test also covers the short one


@dataclass(frozen=True)
class SelfTestStart:
    device: str
    kind: str
    started: bool
    message: str


def stagger(device: str, kind: str) -> float:
    """A stable fraction in [0, 1): where in its interval this device's test falls."""
    digest = hashlib.sha256(f"{device}/{kind}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


class SelfTestScheduler:
    def __init__(self, config: SelfTestConfig, journal: Journal, runner: SmartctlRunner):
        self.config = config
        self.journal = journal
        self.runner = runner

    def interval(self, kind: str) -> float:
        return self.config.long_every if kind == "long" else self.config.short_every

    def run(self, reports: list[DiskReport], now: float, first_poll: bool) -> list[SelfTestStart]:
        """Start the most overdue tests (at most ``max_starts_per_poll``); never on the first poll."""
        if not self.config.enabled:
            return []
        due = sorted(self._due(reports, now), key=lambda item: -item[0])   # records first sightings too
        if first_poll:
            return []
        return [self._start(report, kind, now) for _, report, kind in due[:self.config.max_starts_per_poll]]

    def _due(self, reports: list[DiskReport], now: float) -> list[tuple[float, DiskReport, str]]:
        due = []
        for report in reports:
            if report.error or not report.smartctl_type:
                continue
            samples = self.journal.latest_samples(report.device)
            for kind in KINDS:
                key = f"selftest_{kind}_at"
                if key not in samples:   # first sighting: place it somewhere in the coming interval
                    baseline = now - stagger(report.device, kind) * self.interval(kind)
                    self.journal.save_samples(report.device, now, {key: repr(baseline)})
                    continue
                overdue = now - float(samples[key].value) - self.interval(kind)
                if overdue >= 0:
                    due.append((overdue, report, kind))
                    break   # long first: it also does what the short one would
        return due

    def _start(self, report: DiskReport, kind: str, now: float) -> SelfTestStart:
        keys = {"selftest_long_at": repr(now), "selftest_short_at": repr(now)} if kind == "long" \
            else {"selftest_short_at": repr(now)}
        self.journal.save_samples(report.device, now, keys)
        try:
            result = self.runner.run(["-d", report.smartctl_type, "-t", kind, report.path])
        except OSError as exc:
            log.warning("self-test %s on %s not started: %s", kind, report.device, exc)
            return SelfTestStart(report.device, kind, False, str(exc))
        text = result.stdout.decode("utf-8", "replace")
        started = result.returncode & 0x03 == 0 and ("has begun" in text or "in progress" in text.lower())
        message = "started" if started else f"smartctl exit {result.returncode}"
        log.info("self-test %s on %s: %s", kind, report.device, message)
        return SelfTestStart(report.device, kind, started, message)

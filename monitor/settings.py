"""Config sections owned by the monitor: ``monitor:`` and ``alerts:``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from common.configtypes import Duration, Secret, Section

PREDICTIVE_ATA_ATTRIBUTES = [5, 187, 188, 197, 198, 10, 184, 196, 201]
"""Raw > 0 predicts failure (Backblaze's and Scrutiny's findings)."""

RISE_ATA_ATTRIBUTES = [5, 187, 197, 198]
"""A rise of these since the previous poll alerts even on a disk already in warning."""


class DiskThresholds(Section):
    """When a disk's numbers become a warning or a failure. Per device, only the keys given override."""

    temperature_warning_c: float | None = Field(
        default=None, description="warn at or above; default: the drive's own warning threshold (NVMe) else 60")
    percentage_used_warning: int = Field(default=90, description="NVMe endurance used, percent")
    percentage_used_failing: int = Field(default=100)
    predictive_attributes: list[int] = Field(default_factory=lambda: list(PREDICTIVE_ATA_ATTRIBUTES),
                                             description="ATA attribute ids whose raw value > 0 is a warning")
    rise_attributes: list[int] = Field(default_factory=lambda: list(RISE_ATA_ATTRIBUTES),
                                       description="ATA attribute ids whose rise between polls alerts")


class SmartDevice(Section):
    name: str = Field(description="device path, e.g. /dev/sda")
    type: str | None = Field(default=None, description="smartctl -d type, e.g. sat, nvme, scsi")


class SelfTestConfig(Section):
    enabled: bool = True
    short_every: Duration = Field(default=86400.0, description="a short self-test this often per disk")
    long_every: Duration = Field(default=7 * 86400.0, description="a long (extended) self-test this often")
    max_starts_per_poll: int = Field(default=1, ge=1, description="staggers tests: at most this many start per poll")


class SmartConfig(Section):
    enabled: bool = True
    smartctl: str = Field(default="smartctl", description="a path, or a name looked up on PATH")
    devices: Literal["auto"] | list[SmartDevice] = "auto"
    interval: Duration = Field(default=1800.0, description="how often to poll SMART")
    timeout: Duration = Field(default=30.0, description="a smartctl call running longer is killed")
    concurrency: int = Field(default=4, ge=1, le=64, description="devices polled at once")
    sample_retention: Duration = Field(default=90 * 86400.0, description="how long SMART counters are kept")
    thresholds: DiskThresholds = Field(default_factory=DiskThresholds)
    per_device: dict[str, DiskThresholds] = Field(
        default_factory=dict, description="overrides keyed by device label (sda), path (/dev/sda) or serial")
    selftests: SelfTestConfig = Field(default_factory=SelfTestConfig)


class FilesystemConfig(Section):
    interval: Duration = Field(default=60.0, description="how often to sample free space")
    warning_free_ratio: float = Field(default=0.15, ge=0, le=1)
    critical_free_ratio: float = Field(default=0.05, ge=0, le=1)
    extra_paths: list[Path] = Field(default_factory=list, description="more folders to watch for space")
    time_to_full_warning: Duration = Field(default=86400.0, description="warn when the trend fills it sooner")
    trend_window: Duration = Field(default=6 * 3600.0, description="samples used for the time-to-full trend")


class MonitorConfig(Section):
    smart: SmartConfig = Field(default_factory=SmartConfig)
    filesystems: FilesystemConfig = Field(default_factory=FilesystemConfig)


class Notifier(Section):
    webhook: str | None = None
    apprise: str | None = None
    smtp: str | None = Field(default=None, description="smtp://[user@]host[:port], smtps://… for TLS, "
                             "?starttls=1 to upgrade")
    alertmanager: str | None = Field(default=None, description="an Alertmanager's base URL, e.g. "
                                     "http://127.0.0.1:9093: alerts are posted to its /api/v2/alerts")
    instance: str | None = Field(default=None, description="the instance label sent to Alertmanager "
                                 "(default: the hostname); match your scrape target's to inhibit by JagaDown")
    hold: Duration = Field(default=3600.0, description="a firing alert stays firing in Alertmanager this long "
                           "after jaga last re-posted it (if jaga dies, it is not resolved sooner)")
    password: Secret | None = Field(default=None, description="the SMTP user's password: inline, {file: PATH} "
                                    "or {env: VARIABLE} (rather than in the smtp URL)")
    to: list[str] = Field(default_factory=list, description="e-mail recipients (smtp)")
    sender: str = Field(default="jaga@localhost", description="e-mail From (smtp)")
    timeout: Duration = 10.0


class AlertsConfig(Section):
    notify: list[Notifier] = Field(default_factory=list)
    repeat_interval: Duration = 4 * 3600.0
    backlog_age: Duration = Field(default=600.0, description="alert when the oldest pending replica is older")
    error_run: int = Field(default=5, ge=1, description="alert after this many replication errors in a row")
    node_silent: Duration = Field(default=120.0, description="alert (NodeSilent) when another node sharing the "
                                  "journal, not stopped, has not beaten for this long")
    evaluate_every: Duration = Field(default=30.0, description="how often target state is checked")
    notify_attempts: int = Field(default=4, ge=1, description="a failing notifier is tried this often")
    notify_backoff: Duration = Field(default=2.0, description="first retry delay, doubling")

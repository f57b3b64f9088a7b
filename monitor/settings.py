"""Config sections owned by the monitor: ``monitor:`` and ``alerts:``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from jaga.configtypes import Duration, Section


class SmartDevice(Section):
    name: str = Field(description="device path, e.g. /dev/sda")
    type: str | None = Field(default=None, description="smartctl -d type, e.g. sat, nvme, scsi")


class SmartConfig(Section):
    enabled: bool = True
    smartctl: str = Field(default="smartctl", description="a path, or a name looked up on PATH")
    devices: Literal["auto"] | list[SmartDevice] = "auto"
    interval: Duration = Field(default=1800.0, description="how often to poll SMART")
    timeout: Duration = Field(default=30.0, description="a smartctl call running longer is killed")


class FilesystemConfig(Section):
    interval: Duration = Field(default=60.0, description="how often to sample free space")
    warning_free_ratio: float = Field(default=0.15, ge=0, le=1)
    critical_free_ratio: float = Field(default=0.05, ge=0, le=1)
    extra_paths: list[Path] = Field(default_factory=list, description="more folders to watch for space")


class MonitorConfig(Section):
    smart: SmartConfig = Field(default_factory=SmartConfig)
    filesystems: FilesystemConfig = Field(default_factory=FilesystemConfig)


class Notifier(Section):
    webhook: str | None = None
    apprise: str | None = None
    smtp: str | None = None


class AlertsConfig(Section):
    notify: list[Notifier] = Field(default_factory=list)
    repeat_interval: Duration = 4 * 3600.0
    backlog_age: Duration = Field(default=600.0, description="alert when the oldest pending replica is older")

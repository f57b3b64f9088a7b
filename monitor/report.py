"""Plain records of what a SMART poll found: no pySMART objects leak past the readers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

HEALTH_LEVELS = {"ok": 0, "warning": 1, "failing": 2, "unknown": 3}
"""The value of ``jaga_disk_health``; also the order used to pick the worse of two verdicts
(``unknown`` is shown as 3 but ranks between warning and failing, see ``worse``)."""

EXIT_STATUS_BITS = {
    0: "command line did not parse",
    1: "device open failed",
    2: "a SMART or ATA command failed, or a checksum error",
    3: "SMART status check returned DISK FAILING",
    4: "a prefail attribute is at or below its threshold",
    5: "an attribute was at or below its threshold in the past",
    6: "the device error log has entries",
    7: "the self-test log has errors",
}


def exit_status_meanings(status: int | None) -> list[str]:
    """smartctl's exit status is a bitmask (man smartctl, RETURN VALUES); name the bits set."""
    if not status:
        return []
    return [text for bit, text in EXIT_STATUS_BITS.items() if status & (1 << bit)]


@dataclass
class SmartAttribute:
    id: int
    name: str
    value: int | None
    worst: int | None
    thresh: int | None
    when_failed: str          # "-", "FAILING_NOW" or "In_the_past"
    raw: str
    raw_int: int | None       # Python int: real drives report values beyond 2**64


@dataclass
class SelfTest:
    num: int | None
    description: str          # "Short offline", "Extended offline", "Background short", ...
    status: str
    passed: bool | None       # None: still running or aborted by the host
    hours: int | None
    lba: str | None

    @property
    def extended(self) -> bool:
        text = self.description.lower()
        return "extended" in text or "long" in text


@dataclass
class NvmeHealth:
    critical_warning: int = 0
    available_spare: int | None = None
    available_spare_threshold: int | None = None
    percentage_used: int | None = None
    media_errors: int | None = None
    error_log_entries: int | None = None
    warning_temperature_c: int | None = None


@dataclass
class DiskReport:
    """One device at one poll, with the verdict a person can act on."""

    path: str                               # what smartctl is given: /dev/sda, /dev/bus/0
    device: str                             # the metrics label: sda, nvme0, bus_0_megaraid_60
    smartctl_type: str | None = None        # the -d type used
    interface: str | None = None            # ata, sat, nvme, scsi, sas, ...
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    health: str = "unknown"
    reasons: list[str] = field(default_factory=list)
    temperature_c: int | None = None
    exit_status: int | None = None
    assessment: str | None = None           # PASSED / FAILED as the drive said it, or SCSI status text
    attributes: list[SmartAttribute] = field(default_factory=list)
    nvme: NvmeHealth | None = None
    scsi_grown_defects: int | None = None
    self_tests: list[SelfTest] = field(default_factory=list)
    rises: list[dict] = field(default_factory=list)   # {"counter", "name", "now", "was", "since"}
    error: str | None = None                # why the device could not be read
    source: str = "pysmart"                 # pysmart | json (smartctl --json fallback) | none
    polled_at: float = 0.0

    def attribute(self, attribute_id: int) -> SmartAttribute | None:
        return next((a for a in self.attributes if a.id == attribute_id), None)

    def to_json(self) -> dict:
        data = asdict(self)
        data["exit_status_meanings"] = exit_status_meanings(self.exit_status)
        data["health_value"] = HEALTH_LEVELS[self.health]
        for attribute in data["attributes"]:
            attribute["raw_int"] = _json_int(attribute["raw_int"])
        if data["nvme"]:
            data["nvme"]["media_errors"] = _json_int(data["nvme"]["media_errors"])
        for rise in data["rises"]:
            rise["now"], rise["was"] = _json_int(rise["now"]), _json_int(rise["was"])
        return data


def _json_int(value: int | None) -> int | str | None:
    """JSON readers (JavaScript) lose integers past 2**53: send absurd counters as text."""
    if value is None or abs(value) < 2**53:
        return value
    return str(value)

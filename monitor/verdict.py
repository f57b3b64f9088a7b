"""The verdict per disk: ok, warning, failing or unknown, with reasons a person can act on.

The rules are the issue's list (docs/monitoring.md explains each). Counters are Python ints, so a
firmware that reports 4457415897738954923835392 media errors is judged, not overflowed.
"""

from __future__ import annotations

from common.units import format_duration
from journal.records import SampleRecord
from monitor.report import DiskReport, SelfTest
from monitor.settings import DiskThresholds

DEFAULT_TEMPERATURE_WARNING_C = 60
IMPLAUSIBLE = 2**64
"""No real 64-bit drive counter gets here; a value beyond it is firmware garbage."""

NVME_CRITICAL_WARNING_BITS = {
    0x01: "available spare below threshold",
    0x02: "temperature outside its thresholds",
    0x04: "reliability degraded by media or internal errors",
    0x08: "media placed in read-only mode",
    0x10: "volatile memory backup failed",
    0x20: "persistent memory region unreliable",
}

OK, WARNING, FAILING, UNKNOWN = "ok", "warning", "failing", "unknown"
_RANK = {OK: 0, WARNING: 1, UNKNOWN: 2, FAILING: 3}


class Findings:
    """Reasons collected at their level; the verdict is the worst level found."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, level: str, reason: str) -> None:
        self.items.append((level, reason))

    def health(self) -> str:
        return max((level for level, _ in self.items), key=_RANK.get, default=OK)

    def reasons(self) -> list[str]:
        ordered = sorted(self.items, key=lambda item: -_RANK[item[0]])
        return [reason for _, reason in ordered]


def judge(report: DiskReport, thresholds: DiskThresholds, previous: dict[str, SampleRecord] | None = None) -> DiskReport:
    """Fill ``health``, ``reasons`` and ``rises`` of ``report`` and return it."""
    if report.error:
        report.health, report.reasons = UNKNOWN, [report.error]
        return report
    findings = Findings()
    _assessment(report, findings)
    _ata_attributes(report, thresholds, findings)
    _nvme(report, thresholds, findings)
    _scsi(report, findings)
    _temperature(report, thresholds, findings)
    _self_tests(report, findings)
    _exit_status(report, findings)
    _rises(report, thresholds, previous or {}, findings)
    report.health, report.reasons = findings.health(), findings.reasons()
    return report


def worse(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def _assessment(report: DiskReport, findings: Findings) -> None:
    status = report.assessment
    if status in (None, "PASSED", "OK"):
        return
    if status == "FAILED":
        findings.add(FAILING, "overall SMART self-assessment: FAILED")
    else:
        findings.add(FAILING, f"SCSI health status: {status} (not OK)")


def _ata_attributes(report: DiskReport, thresholds: DiskThresholds, findings: Findings) -> None:
    for attr in report.attributes:
        label = f"{attr.name} ({attr.id})"
        if attr.when_failed == "FAILING_NOW":
            findings.add(FAILING, f"{label} failing now: value {attr.value} <= threshold {attr.thresh} "
                                  f"(raw {attr.raw})")
        elif attr.when_failed == "In_the_past":
            findings.add(WARNING, f"{label} failed in the past: worst {attr.worst} <= threshold {attr.thresh}")
        if attr.id in thresholds.predictive_attributes and (attr.raw_int or 0) > 0:
            findings.add(WARNING, f"{label} = {attr.raw_int} (a healthy disk has 0)")


def _nvme(report: DiskReport, thresholds: DiskThresholds, findings: Findings) -> None:
    nvme = report.nvme
    if nvme is None:
        return
    if nvme.critical_warning:
        bits = [text for bit, text in NVME_CRITICAL_WARNING_BITS.items() if nvme.critical_warning & bit]
        findings.add(FAILING, f"NVMe critical warning 0x{nvme.critical_warning:02x}: {', '.join(bits) or 'reserved bits'}")
    spare, spare_min = nvme.available_spare, nvme.available_spare_threshold
    if spare is not None and spare_min is not None and spare < spare_min:
        findings.add(FAILING, f"available spare {spare}% below its threshold {spare_min}%")
    used = nvme.percentage_used
    if used is not None and used >= thresholds.percentage_used_failing:
        findings.add(FAILING, f"endurance used {used}% (>= {thresholds.percentage_used_failing}%)")
    elif used is not None and used >= thresholds.percentage_used_warning:
        findings.add(WARNING, f"endurance used {used}% (>= {thresholds.percentage_used_warning}%)")
    errors = nvme.media_errors or 0
    if errors >= IMPLAUSIBLE:
        findings.add(WARNING, f"NVMe media and data integrity errors reads {errors}, an implausible value "
                              "(firmware fault?): this drive's error counter cannot be trusted")
    elif errors > 0:
        findings.add(WARNING, f"NVMe media and data integrity errors: {errors} (a healthy drive has 0)")


def _scsi(report: DiskReport, findings: Findings) -> None:
    if report.scsi_grown_defects:
        findings.add(WARNING, f"SCSI grown defect list: {report.scsi_grown_defects} elements (a healthy disk has 0)")


def _temperature(report: DiskReport, thresholds: DiskThresholds, findings: Findings) -> None:
    limit = thresholds.temperature_warning_c
    if limit is None:
        limit = (report.nvme and report.nvme.warning_temperature_c) or DEFAULT_TEMPERATURE_WARNING_C
    if report.temperature_c is not None and report.temperature_c >= limit:
        findings.add(WARNING, f"temperature {report.temperature_c} °C (>= {limit:g} °C)")


def split_self_tests(tests: list[SelfTest]) -> tuple[list[SelfTest], list[SelfTest], SelfTest | None]:
    """(current failures, failures outdated by a newer passing extended test, that test).

    smartctl's own rule (exit status bit 7): a failed self-test counts until a newer *extended*
    test passes; a passing short test checks too little of the surface to clear it.
    """
    current: list[SelfTest] = []
    for index, test in enumerate(tests):  # newest first, as smartctl lists them
        if test.passed and test.extended:
            older = [t for t in tests[index + 1:] if t.passed is False]
            return current, older, test
        if test.passed is False:
            current.append(test)
    return current, [], None


def _self_tests(report: DiskReport, findings: Findings) -> None:
    current, outdated, cleared_by = split_self_tests(report.self_tests)
    if current:
        newest = current[0]
        more = f"; {len(current)} failed since the last passing extended test" if len(current) > 1 else ""
        findings.add(FAILING, f"self-test failed: {newest.description} '{newest.status}'{_where(newest)}"
                              f" and no newer extended test passed{more}")
    if outdated:
        hours = sorted({t.hours for t in outdated if t.hours is not None})
        span = f" at {hours[0]}-{hours[-1]} h" if len(hours) > 1 else (f" at {hours[0]} h" if hours else "")
        statuses = ", ".join(sorted({t.status for t in outdated}))
        lbas = ", ".join(sorted({t.lba for t in outdated if t.lba}))
        findings.add(WARNING, f"{len(outdated)} earlier self-tests failed ({statuses}{span}"
                              f"{', LBA ' + lbas if lbas else ''}); a newer extended test passed"
                              f"{_where(cleared_by)}")


def _where(test: SelfTest) -> str:
    parts = []
    if test.hours is not None:
        parts.append(f" at {test.hours} h")
    if test.lba:
        parts.append(f", LBA {test.lba}")
    return "".join(parts)


def _exit_status(report: DiskReport, findings: Findings) -> None:
    """smartctl's bitmask backs the parsed rules up: a bit set that no reason explains is a reason."""
    status = report.exit_status or 0
    said = " ".join(reason for _, reason in findings.items)
    if status & 0x08 and "FAILED" not in said:
        findings.add(FAILING, "smartctl exit status: SMART status check returned DISK FAILING")
    if status & 0x10 and "failing now" not in said:
        findings.add(FAILING, "smartctl exit status: a prefail attribute is at or below its threshold")
    if status & 0x20 and "in the past" not in said:
        findings.add(WARNING, "smartctl exit status: an attribute was at or below its threshold in the past")
    if status & 0x80 and "self-test" not in said:
        findings.add(WARNING, "smartctl exit status: the self-test log has errors")


def counters(report: DiskReport, thresholds: DiskThresholds) -> dict[str, tuple[str, int]]:
    """The counters whose rise alerts: key -> (name for people, value)."""
    found: dict[str, tuple[str, int]] = {}
    for attr in report.attributes:
        if attr.id in thresholds.rise_attributes and attr.raw_int is not None:
            found[f"ata_{attr.id}"] = (f"{attr.name} ({attr.id})", attr.raw_int)
    if report.nvme and report.nvme.media_errors is not None:
        found["nvme_media_errors"] = ("NVMe media errors", report.nvme.media_errors)
    if report.scsi_grown_defects is not None:
        found["scsi_grown_defects"] = ("SCSI grown defects", report.scsi_grown_defects)
    return found


def _rises(report: DiskReport, thresholds: DiskThresholds, previous: dict[str, SampleRecord], findings: Findings) -> None:
    serial = previous.get("serial")
    if serial is not None and serial.value != (report.serial or ""):
        return  # another disk in the same slot: nothing to compare with
    for key, (name, now) in counters(report, thresholds).items():
        before = previous.get(key)
        was = _parse(before.value) if before else None
        if was is None or now >= IMPLAUSIBLE or was >= IMPLAUSIBLE or now <= was:
            continue
        ago = format_duration(max(report.polled_at - before.polled_at, 0))
        report.rises.append({"counter": key, "name": name, "now": now, "was": was, "since": before.polled_at})
        findings.add(WARNING, f"{name} rose to {now} (was {was} {ago} ago)")


def _parse(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None

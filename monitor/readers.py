"""Turn smartctl's answers into a DiskReport: through pySMART first, smartctl's JSON as a fallback.

pySMART reads the text of ``smartctl --all``. Three things it does not give us are read from that
same captured text (no extra call): the drive's own overall assessment line (pySMART overwrites
``assessment`` with FAIL when any attribute fails, so "the drive said FAILED" is lost), the NVMe
warning temperature threshold, and the SCSI "Current Drive Temperature" it sometimes misses.
Devices pySMART cannot open at all (USB bridges it has no type for, such as JMicron, or output
it cannot parse) are read with ``smartctl -a --json DEV``, letting smartctl autodetect the type.
"""

from __future__ import annotations

import json
import re
import warnings

from pySMART import Device

from monitor.report import DiskReport, NvmeHealth, SelfTest, SmartAttribute, exit_status_meanings
from monitor.smartctl import DeviceSmartctl, SmartctlMissing, SmartctlRunner, SmartctlTimeout

_OVERALL = re.compile(r"SMART overall-health self-assessment test result:\s*(\S+?)!?\s*$")
_SCSI_HEALTH = re.compile(r"SMART Health Status:\s*(.+?)\s*$")
_NVME_WARN_TEMP = re.compile(r"Warning\s+Comp\. Temp\. Threshold:\s*(\d+) Celsius")
_SCSI_TEMP = re.compile(r"Current Drive Temperature:\s*(\d+) C")


def device_label(path: str, smartctl_type: str | None = None) -> str:
    """The ``device`` label as node_exporter and smartctl_exporter write it: sda, nvme0.

    Disks behind a RAID controller share one path, so their slot is part of the label.
    """
    if path.startswith("IOService:"):
        return path.rsplit("/", 1)[-1]
    label = path.removeprefix("/dev/").replace("/", "_")
    if smartctl_type and "," in smartctl_type:
        kind, _, slot = smartctl_type.rpartition(",")
        label += f"_{kind.split('+')[-1]}_{slot}"
    return label


def read_device(runner: SmartctlRunner, path: str, smartctl_type: str | None) -> DiskReport:
    """Read one device; never raises for the device's sake (a failure becomes ``error``)."""
    report = DiskReport(path=path, device=device_label(path, smartctl_type), smartctl_type=smartctl_type)
    smartctl = DeviceSmartctl(runner)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            device = Device(path, interface=smartctl_type, smartctl=smartctl)
    except (SmartctlTimeout, SmartctlMissing) as exc:
        report.error, report.source = str(exc), "none"
        return report
    except Exception as exc:  # noqa: BLE001 - pySMART raises ValueError/IndexError on odd output
        return read_json_fallback(runner, report, f"pySMART: {type(exc).__name__}: {exc}")
    if smartctl.timed_out:
        report.error, report.source = str(smartctl.timed_out), "none"
        return report
    if device.interface is None or smartctl.all_result is None or not device.model:
        return read_json_fallback(runner, report, "pySMART could not identify the device")
    fill_from_pysmart(report, device, smartctl.all_lines)
    report.exit_status = smartctl.all_result.returncode
    return report


def fill_from_pysmart(report: DiskReport, device: Device, lines: list[str]) -> None:
    report.smartctl_type = device.smartctl_interface
    report.interface = device.dev_interface
    report.model, report.serial, report.firmware = device.model, device.serial, device.firmware
    report.temperature_c = device.temperature
    report.attributes = [_attribute(a) for a in device.attributes if a is not None]
    report.self_tests = [_self_test(t) for t in device.tests]
    attrs = device.if_attributes
    if type(attrs).__name__ == "NvmeAttributes":
        report.nvme = NvmeHealth(
            critical_warning=attrs.criticalWarning or 0, available_spare=attrs.availableSpare,
            available_spare_threshold=attrs.availableSpareThreshold, percentage_used=attrs.percentageUsed,
            media_errors=attrs.integrityErrors, error_log_entries=attrs.errorEntries)
    elif type(attrs).__name__ == "SCSIAttributes":
        report.scsi_grown_defects = attrs.diagnostics.Reallocated_Sector_Ct
    fill_from_text(report, lines)


def fill_from_text(report: DiskReport, lines: list[str]) -> None:
    """What pySMART parses but overwrites or misses; see the module docstring."""
    for line in lines:
        if match := _OVERALL.search(line):
            report.assessment = match.group(1)
        elif match := _SCSI_HEALTH.search(line):
            report.assessment = match.group(1)
        elif (match := _NVME_WARN_TEMP.search(line)) and report.nvme:
            report.nvme.warning_temperature_c = int(match.group(1))
        elif (match := _SCSI_TEMP.search(line)) and report.temperature_c is None:
            report.temperature_c = int(match.group(1))


def _attribute(attr) -> SmartAttribute:
    return SmartAttribute(id=attr.num, name=attr.name, value=_int(attr.value), worst=_int(attr._worst),
                          thresh=attr.thresh, when_failed=attr.when_failed, raw=attr.raw, raw_int=attr.raw_int)


def _self_test(test) -> SelfTest:
    status = str(test.status)
    return SelfTest(num=test.num, description=str(test.type), status=status, passed=self_test_passed(status),
                    hours=_int(test.hours), lba=None if test.LBA in (None, "-") else str(test.LBA))


def self_test_passed(status: str) -> bool | None:
    """smartctl's wording: 'Completed without error' / 'Completed' pass; 'Completed: read failure',
    'Failed ...' fail; 'Aborted by host', 'Interrupted', 'in progress' say nothing about the disk."""
    text = status.lower()
    if any(word in text for word in ("progress", "aborted", "interrupted", "running")):
        return None
    if text in ("completed", "completed without error") or text.startswith("completed without"):
        return True
    return False


def _int(value) -> int | None:
    try:
        return int(str(value).split()[0])
    except (ValueError, IndexError, TypeError):
        return None


def read_json_fallback(runner: SmartctlRunner, report: DiskReport, why: str) -> DiskReport:
    args = ["-a", "--json", report.path] if not report.smartctl_type else \
        ["-d", report.smartctl_type, "-a", "--json", report.path]
    try:
        result = runner.run(args)
        data = json.loads(result.stdout.decode("utf-8", "replace"))
    except (SmartctlTimeout, SmartctlMissing) as exc:
        report.error, report.source = str(exc), "none"
        return report
    except ValueError:
        meanings = "; ".join(exit_status_meanings(result.returncode)) or "no output"
        report.error = f"cannot read the device: smartctl exit status {result.returncode} ({meanings}); {why}"
        report.source, report.exit_status = "none", result.returncode
        return report
    fill_from_json(report, data)
    if not report.model and not report.serial:
        report.error = f"{why}; smartctl could not read it ({_json_messages(data)})"
        report.source = "none"
    return report


def _json_messages(data: dict) -> str:
    messages = data.get("smartctl", {}).get("messages", [])
    return "; ".join(m.get("string", "") for m in messages) or "no data"


def fill_from_json(report: DiskReport, data: dict) -> None:
    """smartctl --json (smartctl 7+): the same facts, in its own field names."""
    device = data.get("device", {})
    report.source = "json"
    report.exit_status = data.get("smartctl", {}).get("exit_status")
    report.smartctl_type = report.smartctl_type or device.get("type")
    report.interface = (device.get("protocol") or device.get("type") or "").lower() or None
    report.model, report.serial = data.get("model_name"), data.get("serial_number")
    report.firmware = data.get("firmware_version")
    report.temperature_c = data.get("temperature", {}).get("current")
    passed = data.get("smart_status", {}).get("passed")
    report.assessment = None if passed is None else ("PASSED" if passed else "FAILED")
    report.attributes = [_json_attribute(a) for a in data.get("ata_smart_attributes", {}).get("table", [])]
    table = data.get("ata_smart_self_test_log", {}).get("standard", {}).get("table", [])
    report.self_tests = [_json_self_test(i, t) for i, t in enumerate(table, start=1)]
    if "nvme_smart_health_information_log" in data:
        report.nvme = _json_nvme(data)
    if "scsi_grown_defect_list" in data:
        report.scsi_grown_defects = data["scsi_grown_defect_list"]


def _json_attribute(item: dict) -> SmartAttribute:
    when = {"now": "FAILING_NOW", "past": "In_the_past"}.get(item.get("when_failed") or "", "-")
    raw = item.get("raw", {})
    return SmartAttribute(id=item["id"], name=item.get("name", "?"), value=item.get("value"),
                          worst=item.get("worst"), thresh=item.get("thresh"), when_failed=when,
                          raw=str(raw.get("string", raw.get("value"))), raw_int=_int(raw.get("string")))


def _json_self_test(num: int, item: dict) -> SelfTest:
    status = item.get("status", {})
    passed = status.get("passed")
    text = status.get("string", "")
    return SelfTest(num=num, description=item.get("type", {}).get("string", "?"), status=text,
                    passed=self_test_passed(text) if passed is None else passed,
                    hours=item.get("lifetime_hours"), lba=None if item.get("lba") is None else str(item["lba"]))


def _json_nvme(data: dict) -> NvmeHealth:
    log = data["nvme_smart_health_information_log"]
    return NvmeHealth(critical_warning=log.get("critical_warning", 0), available_spare=log.get("available_spare"),
                      available_spare_threshold=log.get("available_spare_threshold"),
                      percentage_used=log.get("percentage_used"), media_errors=log.get("media_errors"),
                      error_log_entries=log.get("num_err_log_entries"),
                      warning_temperature_c=data.get("nvme_warning_temperature"))

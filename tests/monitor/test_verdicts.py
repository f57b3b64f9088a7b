"""Every recording gets the verdict a storage engineer would give, with its reasons."""

from __future__ import annotations

import json

import pytest

from monitor.readers import fill_from_json
from monitor.report import DiskReport
from monitor.settings import DiskThresholds, SmartConfig
from monitor.smart import SmartPoller
from monitor.verdict import judge

# folder: (device path, -d type or None for pySMART's own detection, health, reasons that must appear)
TEXT_CASES = {
    "ata-wdc-ultrastar-hc550-wuh721816ale6l4-healthy": ("/dev/sdau", "ata", "ok", []),
    "sat-seagate-exos-st2000nm000a-healthy": ("/dev/sg2", None, "ok", []),
    "sat-megaraid-intel-ssdsc2kb480g8-healthy": ("/dev/bus/0", "sat+megaraid,60", "ok", []),
    "nvme-samsung-970evoplus-healthy": ("/dev/nvme0", "nvme", "ok", []),
    "nvme-wdc-sn730-healthy": ("/dev/nvme0", "nvme", "ok", []),
    "nvme-toshiba-kbg30zmv256g-autodetect-healthy": ("/dev/nvme0", None, "ok", []),
    "scsi-hgst-ultrastar-huh721212al4204-sas-healthy": ("/dev/sdc", "scsi", "ok", []),
    "scsi-samsung-mzilt7t6hala-sas-ssd-healthy": ("/dev/sdb", "scsi", "ok", []),
    "usb-nvme-samsung-t7-asmedia-healthy": ("/dev/sda", "sntasmedia", "ok", []),
    "nvme-samsung-960evo-1tb-media-errors": ("/dev/nvme0", "nvme", "warning",
                                             ["NVMe media and data integrity errors: 28"]),
    "nvme-skhynix-bc501-bogus-media-error-count": ("/dev/nvme0", "nvme", "warning",
                                                   ["reads 4457415897738954923835392, an implausible value"]),
    "ata-seagate-barracuda-st3160815as-failed": ("/dev/sda", "ata", "failing", [
        "overall SMART self-assessment: FAILED",
        "Reallocated_Sector_Ct (5) failing now: value 1 <= threshold 36 (raw 65453)",
        "Reported_Uncorrect (187) = 313", "Current_Pending_Sector (197) = 11166",
        "Offline_Uncorrectable (198) = 11166"]),
    "ata-wdc-caviar-wd2500jb-failed": ("/dev/sda", "ata", "failing", [
        "overall SMART self-assessment: FAILED", "Raw_Read_Error_Rate (1) failing now: value 1 <= threshold 51",
        "self-test failed: Short offline 'Completed: unknown failure' at 1077 h",
        "Reallocated_Sector_Ct (5) = 1", "Current_Pending_Sector (197) = 13"]),
    "ata-fujitsu-mhr2020at-failed-servo-selftest": ("/dev/sda", "ata", "failing", [
        "overall SMART self-assessment: FAILED", "Raw_Read_Error_Rate (1) failing now: value 7 <= threshold 46",
        "'Completed: servo/seek failure'", "2 failed since the last passing extended test",
        "Current_Pending_Sector (197) = 10", "Offline_Uncorrectable (198) = 17"]),
    "ata-ibm-deskstar-ic35l120avv207-failed": ("/dev/sda", "ata", "failing", [
        "overall SMART self-assessment: FAILED", "Throughput_Performance (2) failing now: value 15 <= threshold 50",
        "self-test failed: Extended offline 'Completed: read failure' at 2692 h, LBA 173893",
        "Reallocated_Sector_Ct (5) = 277", "Current_Pending_Sector (197) = 49", "Offline_Uncorrectable (198) = 20"]),
    "ata-maxtor-stm3320620as-uncorrectable-read-failure": ("/dev/sdb", "ata", "failing", [
        "self-test failed: Extended offline 'Completed: read failure' at 836 h, LBA 226542783 and no newer "
        "extended test passed", "Reported_Uncorrect (187) = 42", "Current_Pending_Sector (197) = 3",
        "Offline_Uncorrectable (198) = 3"]),
    "ata-wdc-wd2500js-temperature-failing-now": ("/dev/sda", "ata", "failing", [
        "Temperature_Celsius (190) failing now: value 19 <= threshold 45 (raw 81)", "temperature 81 °C (>= 60 °C)"]),
    "ata-wdc-wd2500js-temperature-in-the-past": ("/dev/sda", "ata", "warning", [
        "Temperature_Celsius (190) failed in the past: worst 32 <= threshold 45"]),
    "ata-seagate-st380011a-reallocated-pending": ("/dev/sda", "ata", "warning", [
        "Reallocated_Sector_Ct (5) = 311", "Current_Pending_Sector (197) = 661", "Offline_Uncorrectable (198) = 661"]),
    "ata-wdc-wd3200bevt-past-selftest-read-failure": ("/dev/sda", "ata", "warning", [
        "6 earlier self-tests failed (Completed: read failure at 77-81 h, LBA 403585703); "
        "a newer extended test passed at 85 h"]),
    "ata-maxtor-4k080h4-calibration-failing-now": ("/dev/sda", "ata", "failing", [
        "overall SMART self-assessment: FAILED", "Calibration_Retry_Count (11) failing now: value 20 <= threshold 20",
        "Seek_Error_Rate (7) failed in the past: worst 1 <= threshold 23"]),
    # pySMART cannot open a USB JMicron bridge; smartctl -a --json autodetects it (the JSON fallback)
    "ata-hitachi-hds721050dle630-usb-jmicron-failed": ("/dev/sdc", None, "failing", [
        "overall SMART self-assessment: FAILED", "Reallocated_Sector_Ct (5) failing now: value 1 <= threshold 5",
        "Current_Pending_Sector (197) = 8", "self-test failed: Extended offline 'Completed: read failure' at 4 h"]),
}

# JSON recordings whose argv no reader of ours sends: judged from the file through the JSON reader.
JSON_CASES = {
    "nvme-samsung-mzwll3t2hajq-critical-warning": ("failing", 8, [
        "overall SMART self-assessment: FAILED", "NVMe critical warning 0x10: volatile memory backup failed"]),
    "nvme-samsung-970evo-media-errors-json": ("warning", 0, ["NVMe media and data integrity errors: 7"]),
}
NEGATIVE = {"ata-apple-hts541010a9e632-x-only-healthy"}   # -x brief format: never served for --all


def poll_one(fake, folder: str, path: str, kind: str | None) -> DiskReport:
    fake.use(folder)
    poller = SmartPoller(SmartConfig(smartctl=str(fake.path), devices=[{"name": path, "type": kind}]))
    [report] = poller.poll().reports
    return report


@pytest.mark.parametrize("folder", sorted(TEXT_CASES))
def test_recording_verdict(fake_smartctl, folder):
    path, kind, health, reasons = TEXT_CASES[folder]
    report = poll_one(fake_smartctl, folder, path, kind)
    assert report.error is None
    assert report.model and report.serial
    assert report.health == health, report.reasons
    for reason in reasons:
        assert any(reason in text for text in report.reasons), (reason, report.reasons)
    if health == "ok":
        assert report.reasons == []


@pytest.mark.parametrize("folder", sorted(JSON_CASES))
def test_json_recording_verdict(recordings, folder):
    health, exit_status, reasons = JSON_CASES[folder]
    [file] = (recordings / folder).iterdir()
    report = DiskReport(path="/dev/nvme0", device="nvme0")
    fill_from_json(report, json.loads(file.read_text()))
    judge(report, DiskThresholds())
    assert (report.health, report.exit_status) == (health, exit_status)
    for reason in reasons:
        assert any(reason in text for text in report.reasons), (reason, report.reasons)


def test_every_recorded_device_has_a_verdict_test(recordings):
    manifest = json.loads((recordings / "manifest.json").read_text())["devices"]
    judged = {name for name, entry in manifest.items() if entry["state"] != "n/a"}
    covered = set(TEXT_CASES) | set(JSON_CASES) | NEGATIVE | {"host-linux-2nvme-1megaraid"}  # host: test_smart.py
    assert judged <= covered, judged - covered


def test_brief_format_is_why_x_output_is_never_served_for_all(recordings):
    """The negative example: pySMART's attribute parser raises on smartctl -x's brief table."""
    from pySMART.interface.ata import AtaAttributes
    lines = (recordings / "ata-apple-hts541010a9e632-x-only-healthy" / "_-x_DEV_-T_permissive").read_text()
    with pytest.raises(ValueError):
        AtaAttributes(iter(lines.splitlines()))


def test_absurd_counter_is_exported_and_stored_without_overflow(fake_smartctl, journal):
    fake_smartctl.use("nvme-skhynix-bc501-bogus-media-error-count")
    config = SmartConfig(smartctl=str(fake_smartctl.path), devices=[{"name": "/dev/nvme0", "type": "nvme"}])
    poller = SmartPoller(config, journal)
    first = poller.poll().reports[0]
    second = poller.poll().reports[0]
    assert first.nvme.media_errors == 4457415897738954923835392
    assert second.rises == [] and second.health == "warning"
    assert first.to_json()["nvme"]["media_errors"] == "4457415897738954923835392"


def test_per_device_thresholds_override_only_what_they_set(fake_smartctl):
    fake_smartctl.use("nvme-wdc-sn730-healthy")   # 46 °C, 1 % used
    config = SmartConfig(smartctl=str(fake_smartctl.path), devices=[{"name": "/dev/nvme0", "type": "nvme"}],
                         per_device={"nvme0": {"temperature_warning_c": 45}})
    [report] = SmartPoller(config).poll().reports
    assert report.health == "warning"
    assert report.reasons == ["temperature 46 °C (>= 45 °C)"]

"""The smartctl runner and the poll: timeouts, missing smartctl, scans, exit status, vanishing devices."""

from __future__ import annotations

import time

import psutil

from tests.monitor.helpers import FAKE
from monitor.settings import SmartConfig
from monitor.smart import SmartPoller
from monitor.smartctl import parse_scan


def poller(fake, devices="auto", **options) -> SmartPoller:
    return SmartPoller(SmartConfig(smartctl=str(fake.path), devices=devices, **options))


def fake_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(FAKE) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_hung_smartctl_is_killed_at_the_timeout_and_the_disk_is_unknown(fake_smartctl):
    fake_smartctl.use("nvme-wdc-sn730-healthy", hang=["_-d_nvme_--all__dev_nvme0"])
    started = time.monotonic()
    [report] = poller(fake_smartctl, [{"name": "/dev/nvme0", "type": "nvme"}], timeout=1).poll().reports
    elapsed = time.monotonic() - started
    assert report.health == "unknown"
    assert "ran over 1s and was killed" in report.reasons[0]
    assert elapsed < 4, "a hung disk must cost one timeout, not one per pySMART call"
    assert fake_processes() == []


def test_missing_smartctl_makes_every_configured_disk_unknown(tmp_path):
    config = SmartConfig(smartctl=str(tmp_path / "nowhere"), devices=[{"name": "/dev/sda", "type": "ata"}])
    result = SmartPoller(config).poll()
    assert [r.health for r in result.reports] == ["unknown"]
    assert "smartctl not found" in result.reports[0].reasons[0]


def test_auto_scan_reads_all_devices_concurrently(fake_smartctl):
    fake_smartctl.use("host-linux-2nvme-1megaraid")
    result = poller(fake_smartctl, concurrency=3).poll()
    by_device = {r.device: r for r in result.reports}
    assert sorted(by_device) == ["bus_0_megaraid_60", "nvme0", "nvme1"]
    assert {r.health for r in result.reports} == {"ok"}, [r.reasons for r in result.reports]
    assert by_device["nvme0"].model == "KCM61VUL1T60"
    assert by_device["bus_0_megaraid_60"].model == "INTEL SSDSC2KB480G8"


def test_exit_status_bitmask_is_kept(fake_smartctl):
    fake_smartctl.use("ata-hitachi-hds721050dle630-usb-jmicron-failed")
    [report] = poller(fake_smartctl, [{"name": "/dev/sdc"}]).poll().reports
    assert report.exit_status == 216
    assert report.to_json()["exit_status_meanings"] == [
        "SMART status check returned DISK FAILING", "a prefail attribute is at or below its threshold",
        "the device error log has entries", "the self-test log has errors"]
    assert report.source == "json"


def test_device_vanishing_from_the_scan_becomes_unknown(fake_smartctl):
    fake_smartctl.use("host-linux-2nvme-1megaraid")
    smart = poller(fake_smartctl)
    assert len(smart.poll().reports) == 3
    fake_smartctl.update(gone=["/dev/nvme1"])
    result = smart.poll()
    assert result.vanished == ["nvme1"]
    nvme1 = next(r for r in result.reports if r.device == "nvme1")
    assert nvme1.health == "unknown"
    assert nvme1.reasons[0].startswith("vanished from the smartctl scan (last seen as KCM61VUL1T60")


def test_configured_device_that_cannot_be_opened_is_unknown(fake_smartctl):
    fake_smartctl.use("nvme-wdc-sn730-healthy", gone=["/dev/nvme0"])
    [report] = poller(fake_smartctl, [{"name": "/dev/nvme0", "type": "nvme"}]).poll().reports
    assert report.health == "unknown"
    assert "device open failed" in report.reasons[0]


def test_scan_listings():
    windows = "/dev/sda -d nvme # /dev/sda, NVMe device\n/dev/sdc -d sat # /dev/sdc [SAT], ATA device\n"
    assert parse_scan(windows) == [("/dev/sda", "nvme"), ("/dev/sdc", "sat")]
    assert parse_scan("# /dev/sdb -d scsi # /dev/sdb, SCSI device open failed: busy\n") == []


def test_recorded_scan_listings(recordings):
    windows = (recordings / "scan-open-windows-mixed-5dev" / "_--scan-open").read_text()
    assert [kind for _, kind in parse_scan(windows)] == ["nvme", "nvme", "sat", "scsi", "scsi"]
    mac = parse_scan((recordings / "scan-open-macos-apple-nvme" / "_--scan-open").read_text())
    assert len(mac) == 1 and mac[0][0].startswith("IOService:/") and mac[0][1] == "nvme"

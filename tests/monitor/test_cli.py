"""`jaga disks` (jaga/commands/disks.py): a table or JSON, exit 0 only when every disk is ok."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from rich.console import Console

from jaga.commands.disks import show_disks
from tests.conftest import needs_binary
from tests.monitor.helpers import make_config


def test_disks_json_and_exit_status(tmp_path, fake_smartctl, capsys):
    fake_smartctl.use("ata-seagate-st380011a-reallocated-pending")
    config = make_config(tmp_path, fake_smartctl, devices=[{"name": "/dev/sda", "type": "ata"}])
    assert show_disks(config, as_json=True) == 1
    [disk] = json.loads(capsys.readouterr().out)["disks"]
    assert {k: disk[k] for k in ("device", "model", "serial", "interface", "health", "temperature_c")} == {
        "device": "sda", "model": "ST380011A", "serial": "5JV9BNJ6", "interface": "ata", "health": "warning",
        "temperature_c": 36}
    assert "Current_Pending_Sector (197) = 661 (a healthy disk has 0)" in disk["reasons"]


def test_disks_all_ok_still_says_the_folders_disk_is_not_among_them(tmp_path, fake_smartctl):
    """The recorded host's disks are all ok, but the folders here are on this machine's own disk,
    which that scan does not list: exit 1, and the coverage table says so."""
    fake_smartctl.use("host-linux-2nvme-1megaraid")
    config = make_config(tmp_path, fake_smartctl)
    out = io.StringIO()
    assert show_disks(config, as_json=False, console=Console(file=out, width=200)) == 1
    text = out.getvalue()
    assert "KCM61VUL1T60" in text and "INTEL SSDSC2KB480G8" in text and text.count(" ok ") >= 3
    assert "SMART coverage of the folders jaga depends on" in text and str(tmp_path / "uploads") in text


@needs_binary("smartctl")
def test_on_a_vm_disks_says_which_folders_have_no_smart_and_why(tmp_path, capsys):
    """The real smartctl on this machine's virtual disk: no disks found is not "all fine"."""
    from monitor.coverage import describe_disk
    from monitor.filesystems import disks_of, mount_of
    config = make_config(tmp_path, None)
    config.monitor.smart.smartctl = "smartctl"
    assert show_disks(config, as_json=True) == 1
    doc = json.loads(capsys.readouterr().out)
    [watch] = [c for c in doc["smart_coverage"] if c["label"] == "watch:uploads"]
    assert watch["covered"] is False
    device = mount_of(tmp_path).device
    [disk] = disks_of(device) if device.startswith("/dev/") else [""]
    assert watch["disk"] == disk
    if disk and describe_disk(disk)[1]:
        assert watch["reason"] == "virtual_disk"
        assert watch["detail"].startswith(f"{disk} is a virtual disk (")
    assert watch["detail"] and watch["reason"] != "ok"


def test_a_folder_on_tmpfs_has_no_disk_to_watch(tmp_path, capsys):
    from jaga.config import parse_config
    shm = Path("/dev/shm") / f"jaga-test-{os.getpid()}-{tmp_path.name}"
    shm.mkdir()
    try:
        (tmp_path / "replica").mkdir()
        config = parse_config({"journal": {"url": f"sqlite:///{tmp_path / 'j.db'}"}, "watch": [{"path": str(shm)}],
                               "targets": [{"name": "s", "type": "local", "path": str(tmp_path / "replica")}],
                               "monitor": {"smart": {"enabled": False}}}, base=tmp_path)
        assert show_disks(config, as_json=True) == 1
        coverage = {c["label"]: c for c in json.loads(capsys.readouterr().out)["smart_coverage"]}
    finally:
        shm.rmdir()
    watch = coverage[f"watch:{shm.name}"]
    assert (watch["reason"], watch["disk"]) == ("no_disk", "")
    assert watch["detail"] == f"{shm} is on tmpfs (/dev/shm), not on a local disk: no SMART here"
    assert coverage["target:s"]["reason"] == "disabled"


@pytest.mark.parametrize("vendor,model,driver,reason", [
    ("DELL", "PERC H730P Mini", "sd", "raid_controller"),
    ("HP", "LOGICAL VOLUME", "sd", "raid_controller"),
    ("QEMU", "QEMU HARDDISK", "sd", "virtual_disk"),
    ("Msft", "Virtual Disk", "sd", "virtual_disk"),
])
def test_raid_volumes_and_virtual_disks_are_told_apart_by_what_sysfs_says(tmp_path, vendor, model, driver, reason):
    """sysfs as the kernel lays it out for a SCSI disk (/sys/class/block/sdX/device/{vendor,model,driver})."""
    from monitor.coverage import smart_coverage
    from monitor.filesystems import FilesystemStat
    device = tmp_path / "devices" / "pci0000:00" / "host0" / "target0:0:0" / "0:0:0:0"
    (device / "block" / "sdz").mkdir(parents=True)
    (device / "vendor").write_text(vendor.ljust(8) + "\n")
    (device / "model").write_text(model.ljust(16) + "\n")
    (tmp_path / "drivers" / driver).mkdir(parents=True)
    (device / "driver").symlink_to(tmp_path / "drivers" / driver)
    sys_block = tmp_path / "class_block"
    sys_block.mkdir()
    (sys_block / "sdz").symlink_to(device / "block" / "sdz")
    (device / "block" / "sdz" / "device").symlink_to(device)
    stat = FilesystemStat("watch:uploads", "/srv/uploads", "/srv", "/dev/sdz1", ("sdz",), "ext4")
    [item] = smart_coverage([stat], [], None, True, sys_block=sys_block)
    assert (item.covered, item.reason) == (False, reason)
    assert model in item.detail


def test_disks_without_smartctl_is_a_problem(tmp_path):
    config = make_config(tmp_path, None)
    out = io.StringIO()
    assert show_disks(config, as_json=False, console=Console(file=out, width=200)) == 1
    assert "SMART unavailable" in out.getvalue()

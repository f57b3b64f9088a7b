"""Free space, read-only mounts, time to full, and which disk a folder sits on."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry

from tests.monitor.helpers import make_config
from monitor.filesystems import disks_of, stat_path, time_to_full
from monitor.service import Monitor


def test_time_to_full_from_a_falling_trend():
    points = [(0.0, 1000), (60.0, 900), (120.0, 800)]
    assert time_to_full(points) == pytest.approx(480.0)
    assert time_to_full([(0.0, 800), (60.0, 900), (120.0, 1000)]) is None
    assert time_to_full([(0.0, 1000), (1.0, 900)]) is None   # too few samples to call it a trend


def test_partition_and_device_mapper_map_to_smart_labels(tmp_path):
    sys_block = tmp_path / "block"
    devices = tmp_path / "devices"
    (devices / "sda" / "sda1").mkdir(parents=True)
    (devices / "sda" / "sda1" / "partition").write_text("1")
    (devices / "nvme0n1" / "nvme0n1p2").mkdir(parents=True)
    (devices / "nvme0n1" / "nvme0n1p2" / "partition").write_text("2")
    (devices / "dm-0" / "slaves").mkdir(parents=True)
    sys_block.mkdir()
    for name, target in (("sda1", "sda/sda1"), ("nvme0n1p2", "nvme0n1/nvme0n1p2"), ("dm-0", "dm-0")):
        (sys_block / name).symlink_to(devices / target)
    (devices / "dm-0" / "slaves" / "sda1").symlink_to(devices / "sda" / "sda1")
    (devices / "dm-0" / "slaves" / "nvme0n1p2").symlink_to(devices / "nvme0n1" / "nvme0n1p2")
    assert disks_of("/dev/sda1", sys_block) == ("sda",)
    assert disks_of("/dev/nvme0n1p2", sys_block) == ("nvme0",)
    assert disks_of("/dev/dm-0", sys_block) == ("nvme0", "sda")


def test_stat_of_a_real_folder(tmp_path):
    stat = stat_path("watch:uploads", tmp_path)
    assert stat.error is None and stat.total_bytes > 0 and 0 < stat.free_ratio <= 1
    assert stat.mountpoint and tmp_path.as_posix().startswith(stat.mountpoint.rstrip("/") or "/")
    assert stat_path("x", tmp_path / "missing").error.endswith("No such file or directory")


@pytest.fixture
def tmpfs(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a tmpfs")
    mount = tmp_path / "uploads"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.root
def test_full_and_read_only_watch_folder(tmp_path, tmpfs, journal):
    config = make_config(tmp_path, None, devices=[])
    monitor = Monitor(config, journal, CollectorRegistry(), lambda: {}, [])
    try:
        (tmpfs / "big").write_bytes(b"\0" * (1024 * 1024 - 4096 * 4))
        monitor.poll_filesystems_now()
        alerts = {(a["alertname"], a["severity"]) for a in monitor.firing_alerts()}
        assert ("FilesystemLow", "critical") in alerts
        assert any("is nearly full" in p for p in monitor.watch_problems())
        (tmpfs / "big").unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
        monitor.poll_filesystems_now()
        alerts = {a["alertname"] for a in monitor.firing_alerts()}
        assert alerts == {"FilesystemReadOnly"}
        assert any("read-only filesystem" in p for p in monitor.watch_problems())
    finally:
        monitor.stop()

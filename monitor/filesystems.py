"""Free space, inodes and read-only state of the folders jaga depends on, and which disk holds each.

statvfs gives the numbers; psutil's partition table maps a folder to its mount and block device;
sysfs maps a partition (sda1, nvme0n1p2, dm-0) to the disk SMART watches (sda, nvme0).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

SYS_BLOCK = Path("/sys/class/block")


@dataclass
class FilesystemStat:
    label: str                      # what the folder is for: watch:uploads, target:secondary, journal
    path: str
    mountpoint: str | None = None
    block_device: str | None = None     # /dev/sda1
    disks: tuple[str, ...] = ()         # SMART device labels under it: ("sda",)
    fstype: str | None = None
    total_bytes: int = 0
    free_bytes: int = 0
    free_ratio: float = 0.0
    total_inodes: int = 0
    free_inodes: int = 0
    readonly: bool = False
    time_to_full_seconds: float | None = None
    error: str | None = None

    @property
    def free_inodes_ratio(self) -> float | None:
        return self.free_inodes / self.total_inodes if self.total_inodes else None

    def to_json(self) -> dict:
        data = asdict(self)
        data["disks"] = list(self.disks)
        data["free_inodes_ratio"] = self.free_inodes_ratio
        return data


def stat_path(label: str, path: Path) -> FilesystemStat:
    stat = FilesystemStat(label=label, path=str(path))
    try:
        vfs = os.statvfs(path)
    except OSError as exc:
        stat.error = f"{path}: {exc.strerror or exc}"
        return stat
    stat.total_bytes = vfs.f_blocks * vfs.f_frsize
    stat.free_bytes = vfs.f_bavail * vfs.f_frsize   # what an unprivileged writer can still use
    stat.free_ratio = stat.free_bytes / stat.total_bytes if stat.total_bytes else 0.0
    stat.total_inodes, stat.free_inodes = vfs.f_files, vfs.f_favail
    stat.readonly = bool(vfs.f_flag & os.ST_RDONLY)
    partition = mount_of(path)
    if partition is not None:
        stat.mountpoint, stat.fstype = partition.mountpoint, partition.fstype
        stat.block_device = partition.device if partition.device.startswith("/dev/") else None
        stat.disks = disks_of(stat.block_device) if stat.block_device else ()
    return stat


def mount_of(path: Path):
    """The psutil partition whose mount point is the longest prefix of the folder's real path."""
    real = os.path.realpath(path)
    best = None
    for partition in psutil.disk_partitions(all=True):
        mount = partition.mountpoint
        if real == mount or real.startswith(mount.rstrip("/") + "/"):
            if best is None or len(mount) > len(best.mountpoint):
                best = partition
    return best


def disks_of(block_device: str, sys_block: Path = SYS_BLOCK) -> tuple[str, ...]:
    """sda1 -> (sda,); nvme0n1p2 -> (nvme0,); dm-0 (LVM, LUKS, RAID) -> every disk beneath it."""
    name = Path(os.path.realpath(block_device)).name
    return tuple(sorted(set(_base_disks(name, sys_block, depth=0))))


def _base_disks(name: str, sys_block: Path, depth: int) -> list[str]:
    entry = sys_block / name
    if depth > 8 or not entry.exists():
        return [smart_label(name)] if depth == 0 else []
    slaves = entry / "slaves"
    if slaves.is_dir() and any(slaves.iterdir()):
        return [disk for slave in slaves.iterdir() for disk in _base_disks(slave.name, sys_block, depth + 1)]
    if (entry / "partition").exists():
        return [smart_label(Path(os.path.realpath(entry)).parent.name)]
    return [smart_label(name)]


def smart_label(disk: str) -> str:
    """The kernel names an NVMe namespace nvme0n1; smartctl's scan names the controller nvme0."""
    if disk.startswith("nvme") and "n" in disk[4:]:
        return disk[: 4 + disk[4:].index("n")]
    return disk


class FillTrend:
    """Time-to-full from a least-squares line through recent (time, free bytes) samples."""

    def __init__(self, window: float):
        self.window = window
        self.samples: dict[str, deque[tuple[float, int]]] = {}

    def add(self, path: str, at: float, free_bytes: int) -> float | None:
        points = self.samples.setdefault(path, deque())
        points.append((at, free_bytes))
        while points and points[0][0] < at - self.window:
            points.popleft()
        return time_to_full(list(points))


def time_to_full(points: list[tuple[float, int]]) -> float | None:
    if len(points) < 3 or points[-1][0] - points[0][0] < 60:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_f = sum(f for _, f in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (f - mean_f) for t, f in points) / spread if spread else 0.0
    if slope >= 0:
        return None
    return max(points[-1][1], 0) / -slope

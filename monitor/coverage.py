"""Which folders jaga depends on have SMART watching the disk beneath them, and why not when not.

On a VM (every cloud server) smartctl sees no disk at all, and "no disks found" reads like "all
fine". Each watched folder, target root and the journal's folder is therefore matched to its disk
(monitor.filesystems) and judged: covered when the last poll read that disk, otherwise a reason a
person can act on: a virtual disk (the host's disks are not visible here), a disk behind a RAID
controller (it needs ``monitor.smart.devices`` with the controller's ``-d`` type), no permission,
smartctl missing, SMART turned off, or a folder on no local disk at all (tmpfs, NFS).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from monitor.filesystems import SYS_BLOCK, FilesystemStat
from monitor.report import DiskReport

VIRTUAL_DRIVERS = {"virtio_blk", "xen_blkfront", "hv_storvsc", "vmw_pvscsi"}
VIRTUAL_VENDORS = ("0x1af4", "qemu", "vmware", "msft", "vbox", "xen", "google", "amazon elastic", "red hat")
RAID_MODELS = ("perc", "megaraid", "lsi", "avago", "logical volume", "adaptec", "serveraid", "smart array",
               "raid", "mr9")
PERMISSION_WORDS = ("permission denied", "operation not permitted")

TEXT = {
    "ok": "SMART watches {disk}",
    "no_disk": "{path} is on {fstype} ({mountpoint}), not on a local disk: no SMART here",
    "disabled": "SMART polling is turned off (monitor.smart.enabled: false)",
    "smartctl_unavailable": "smartctl cannot run: {error}",
    "virtual_disk": "{disk} is a virtual disk ({kind}): the host's physical disks are not visible inside this "
                    "machine; watch them on the host",
    "raid_controller": "{disk} is a volume of a RAID controller ({kind}): list its member disks in "
                       "monitor.smart.devices with the controller's type (e.g. megaraid,0)",
    "permission": "no permission to read {disk} ({kind}): run jaga as root or with CAP_SYS_RAWIO (the shipped "
                  "unit grants it)",
    "unreadable": "smartctl could not read {disk}: {error}",
    "not_polled": "smartctl's scan did not list {disk}: add it to monitor.smart.devices",
}


@dataclass
class Coverage:
    label: str            # watch:uploads, target:secondary, journal
    path: str
    disk: str             # the SMART device label (vda, sda); "" when the folder is on no disk
    covered: bool
    reason: str           # a key of TEXT: ok, virtual_disk, raid_controller, permission, ...
    params: dict = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return TEXT[self.reason].format(path=self.path, disk=self.disk, **self.params)

    def to_json(self) -> dict:
        return {**asdict(self), "detail": self.detail}


def smart_coverage(stats: list[FilesystemStat], reports: list[DiskReport], scan_error: str | None,
                   smart_enabled: bool, sys_block: Path = SYS_BLOCK, dev: Path = Path("/dev")) -> list[Coverage]:
    read = {r.device: r for r in reports}
    found = []
    for stat in stats:
        if stat.error:
            continue
        if not stat.disks:
            found.append(Coverage(stat.label, stat.path, "", False, "no_disk",
                                  {"fstype": stat.fstype or "?", "mountpoint": stat.mountpoint or "?"}))
            continue
        for disk in stat.disks:
            found.append(_judge(stat, disk, read.get(disk), scan_error, smart_enabled, sys_block, dev))
    return found


def _judge(stat, disk: str, report: DiskReport | None, scan_error: str | None, enabled: bool,
           sys_block: Path, dev: Path) -> Coverage:
    def result(reason: str, **params) -> Coverage:
        return Coverage(stat.label, stat.path, disk, reason == "ok", reason, params)

    if report is not None and report.error is None:
        return result("ok")
    if not enabled:
        return result("disabled")
    if scan_error:
        return result("smartctl_unavailable", error=scan_error)
    kind, virtual, raid = describe_disk(disk, sys_block)
    if report is not None and any(word in report.error.lower() for word in PERMISSION_WORDS):
        return result("permission", kind=kind)
    if virtual:
        return result("virtual_disk", kind=kind)
    if raid:
        return result("raid_controller", kind=kind)
    if not os.access(dev / disk, os.R_OK):
        return result("permission", kind=kind)
    if report is not None:
        return result("unreadable", error=report.error)
    return result("not_polled")


def describe_disk(disk: str, sys_block: Path = SYS_BLOCK) -> tuple[str, bool, bool]:
    """(what sysfs says the disk is, is it virtual, is it a RAID controller's volume)."""
    entry = sys_block / disk
    device = entry / "device"
    driver = _link_name(device / "driver")
    vendor, model = _read(device / "vendor"), _read(device / "model")
    if "/virtual/" in os.path.realpath(entry):
        return f"{disk.rstrip('0123456789')} device", True, False
    kind = ", ".join(part for part in (driver, vendor, model) if part) or "unknown device"
    words = f"{vendor} {model}".lower()
    virtual = driver in VIRTUAL_DRIVERS or any(word in words for word in VIRTUAL_VENDORS)
    raid = not virtual and any(word in words for word in RAID_MODELS)
    return kind, virtual, raid


def _link_name(path: Path) -> str:
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""

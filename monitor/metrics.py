"""The monitor's Prometheus metrics, served from the latest poll (a custom collector, no globals).

``jaga_disk_health``: 0 ok, 1 warning, 2 failing, 3 unknown. A device that leaves the poll leaves
the metrics too, so no stale series linger.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from journal.records import AlertRecord
from monitor.filesystems import FilesystemStat
from monitor.report import HEALTH_LEVELS, DiskReport

DISK_METRICS = {
    "jaga_disk_health": "Verdict per disk: 0 ok, 1 warning, 2 failing, 3 unknown.",
    "jaga_disk_info": "Identity of each disk; always 1.",
    "jaga_disk_smart_attribute_raw": "Raw value of each ATA SMART attribute.",
    "jaga_disk_temperature_celsius": "Disk temperature.",
    "jaga_disk_nvme_critical_warning": "NVMe critical warning bit field (0 is fine).",
    "jaga_disk_nvme_media_errors": "NVMe media and data integrity errors reported by the drive.",
    "jaga_disk_nvme_percentage_used_ratio": "NVMe endurance used (1 = the rated endurance).",
    "jaga_disk_nvme_available_spare_ratio": "NVMe available spare.",
    "jaga_disk_nvme_available_spare_threshold_ratio": "NVMe available spare threshold.",
    "jaga_disk_scsi_grown_defects": "Elements in the SCSI grown defect list.",
    "jaga_disk_smartctl_exit_status": "Exit status bitmask of smartctl's last read of the disk.",
    "jaga_disk_poll_success": "1 if the last poll read the disk.",
    "jaga_disk_last_poll_timestamp_seconds": "When the disk was last polled.",
}
FS_METRICS = {
    "jaga_filesystem_free_bytes": "Bytes free for unprivileged writers.",
    "jaga_filesystem_size_bytes": "Filesystem size.",
    "jaga_filesystem_free_inodes": "Inodes free.",
    "jaga_filesystem_readonly": "1 if mounted read-only.",
    "jaga_filesystem_time_to_full_seconds": "Time until full at the recent rate (absent when not filling).",
}


class MonitorMetrics:
    """Register once per registry; feed it with ``update_*`` after each poll."""

    def __init__(self, registry: CollectorRegistry):
        self._lock = threading.Lock()
        self._disks: list[DiskReport] = []
        self._filesystems: list[FilesystemStat] = []
        self._alerts: list[AlertRecord] = []
        self._coverage: list = []
        self._notifications: dict[tuple[str, str], int] = {}
        registry.register(self)

    def update_disks(self, reports: list[DiskReport]) -> None:
        with self._lock:
            self._disks = list(reports)

    def update_filesystems(self, stats: list[FilesystemStat]) -> None:
        with self._lock:
            self._filesystems = list(stats)

    def update_coverage(self, coverage: list) -> None:
        with self._lock:
            self._coverage = list(coverage)

    def update_alerts(self, firing: list[AlertRecord]) -> None:
        with self._lock:
            self._alerts = list(firing)

    def count_notification(self, notifier: str, ok: bool) -> None:
        key = (notifier, "sent" if ok else "failed")
        with self._lock:
            self._notifications[key] = self._notifications.get(key, 0) + 1

    def describe(self):
        return list(self._families().values())

    def collect(self):
        with self._lock:
            disks, filesystems, alerts, coverage = self._disks, self._filesystems, self._alerts, self._coverage
            notifications = dict(self._notifications)
        families = self._families()
        for report in disks:
            _disk_samples(families, report)
        for stat in filesystems:
            _filesystem_samples(families, stat)
        counts: dict[tuple[str, str], int] = {}
        for alert in alerts:
            counts[(alert.alertname, alert.severity)] = counts.get((alert.alertname, alert.severity), 0) + 1
        for labels, count in sorted(counts.items()):
            families["jaga_alerts_firing"].add_metric(list(labels), count)
        for item in coverage:
            families["jaga_smart_coverage"].add_metric([item.path, item.label, item.disk, item.reason],
                                                       1 if item.covered else 0)
        for labels, count in sorted(notifications.items()):
            families["jaga_alert_notifications"].add_metric(list(labels), count)
        return list(families.values())

    @staticmethod
    def _families() -> dict:
        labels = {"jaga_disk_info": ["device", "model", "serial", "interface", "firmware"],
                  "jaga_disk_smart_attribute_raw": ["device", "attribute_id", "attribute_name"]}
        families = {name: GaugeMetricFamily(name, text, labels=labels.get(name, ["device"]))
                    for name, text in DISK_METRICS.items()}
        families.update({name: GaugeMetricFamily(name, text, labels=["path", "label"])
                         for name, text in FS_METRICS.items()})
        families["jaga_alerts_firing"] = GaugeMetricFamily(
            "jaga_alerts_firing", "Alerts firing now, by name and severity.", labels=["alertname", "severity"])
        families["jaga_smart_coverage"] = GaugeMetricFamily(
            "jaga_smart_coverage", "1 when SMART watches the disk under a folder jaga depends on; 0 with the "
            "reason it cannot (virtual_disk, raid_controller, permission, no_disk, ...).",
            labels=["path", "label", "disk", "reason"])
        families["jaga_alert_notifications"] = CounterMetricFamily(
            "jaga_alert_notifications", "Notification deliveries by notifier and result.",
            labels=["notifier", "result"])
        return families


def _disk_samples(families: dict, report: DiskReport) -> None:
    device = [report.device]

    def put(name: str, value) -> None:
        if value is not None:
            families[name].add_metric(device, float(value))

    put("jaga_disk_health", HEALTH_LEVELS[report.health])
    put("jaga_disk_poll_success", 0 if report.error else 1)
    put("jaga_disk_last_poll_timestamp_seconds", report.polled_at)
    families["jaga_disk_info"].add_metric(
        [report.device, report.model or "", report.serial or "", report.interface or "", report.firmware or ""], 1)
    put("jaga_disk_temperature_celsius", report.temperature_c)
    put("jaga_disk_smartctl_exit_status", report.exit_status)
    put("jaga_disk_scsi_grown_defects", report.scsi_grown_defects)
    for attr in report.attributes:
        if attr.raw_int is not None:
            families["jaga_disk_smart_attribute_raw"].add_metric(
                [report.device, str(attr.id), attr.name], float(attr.raw_int))
    if report.nvme:
        nvme = report.nvme
        put("jaga_disk_nvme_critical_warning", nvme.critical_warning)
        put("jaga_disk_nvme_media_errors", nvme.media_errors)   # float(): 4.4e24 stays a number, no overflow
        put("jaga_disk_nvme_percentage_used_ratio", None if nvme.percentage_used is None else nvme.percentage_used / 100)
        put("jaga_disk_nvme_available_spare_ratio", None if nvme.available_spare is None else nvme.available_spare / 100)
        put("jaga_disk_nvme_available_spare_threshold_ratio",
            None if nvme.available_spare_threshold is None else nvme.available_spare_threshold / 100)


def _filesystem_samples(families: dict, stat: FilesystemStat) -> None:
    if stat.error:
        return
    labels = [stat.path, stat.label]
    families["jaga_filesystem_free_bytes"].add_metric(labels, stat.free_bytes)
    families["jaga_filesystem_size_bytes"].add_metric(labels, stat.total_bytes)
    families["jaga_filesystem_free_inodes"].add_metric(labels, stat.free_inodes)
    families["jaga_filesystem_readonly"].add_metric(labels, 1 if stat.readonly else 0)
    if stat.time_to_full_seconds is not None:
        families["jaga_filesystem_time_to_full_seconds"].add_metric(labels, stat.time_to_full_seconds)

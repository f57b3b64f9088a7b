"""What is wrong right now, as alert conditions: from disk reports, filesystem stats and targets.

The alert names match deploy/prometheus/jaga-rules.yml, so a Prometheus shop and jaga's own
notifier page people for the same things under the same names.
"""

from __future__ import annotations

from common.units import format_duration
from journal.records import NodeRecord, ScrubRecord
from monitor.alerts import Condition
from monitor.filesystems import FilesystemStat
from monitor.report import DiskReport
from monitor.settings import AlertsConfig, FilesystemConfig

CRITICAL, WARNING = "critical", "warning"
SCOPE_LABELS = {"disk": "device", "fs": "path", "target": "target", "scrub": "target", "node": "node"}


def subject_labels(key: str, alertname: str) -> dict[str, str]:
    """What an alert key (built below: ``scope:subject:Alertname[:detail]``) is about, as labels:
    ``{"device": "sda"}``, ``{"target": "offsite"}``, ``{"path": "/srv/uploads", "detail": "inodes"}``."""
    scope, _, rest = key.partition(":")
    at = rest.rfind(f":{alertname}")
    if scope not in SCOPE_LABELS or at < 0:
        return {}
    subject, detail = rest[:at], rest[at + len(alertname) + 2:]
    labels = {SCOPE_LABELS[scope]: subject} if subject and subject != "*" else {}
    return {**labels, "detail": detail} if detail else labels


def disk_conditions(reports: list[DiskReport], scan_error: str | None) -> list[Condition]:
    conditions = []
    if scan_error:
        conditions.append(Condition("disk:*:SmartUnavailable", "SmartUnavailable", WARNING, "SMART",
                                    f"SMART cannot be read: {scan_error}"))
    for report in reports:
        subject = f"disk {report.device} ({report.model or '?'}, serial {report.serial or '?'})"
        summary = "; ".join(report.reasons)
        if report.health == "failing":
            conditions.append(Condition(f"disk:{report.device}:DiskFailing", "DiskFailing", CRITICAL, subject, summary))
        elif report.health == "warning":
            conditions.append(Condition(f"disk:{report.device}:DiskWarning", "DiskWarning", WARNING, subject, summary))
        elif report.health == "unknown" and not scan_error:
            conditions.append(Condition(f"disk:{report.device}:DiskUnknown", "DiskUnknown", CRITICAL, subject,
                                        f"the disk does not answer: {summary}"))
        for rise in report.rises:
            conditions.append(Condition(
                f"disk:{report.device}:DiskCounterRising:{rise['counter']}", "DiskCounterRising", WARNING,
                subject, f"{rise['name']} rose to {rise['now']} (was {rise['was']})"))
    return conditions


def filesystem_conditions(stats: list[FilesystemStat], config: FilesystemConfig) -> list[Condition]:
    conditions = []
    for stat in stats:
        if stat.error:
            continue
        where = f"{stat.path} ({stat.label}, on {stat.block_device or stat.mountpoint}" + \
                (f", disk {', '.join(stat.disks)})" if stat.disks else ")")
        conditions += _space(stat, where, config)
        if stat.readonly:
            conditions.append(Condition(f"fs:{stat.path}:FilesystemReadOnly", "FilesystemReadOnly", CRITICAL,
                                        where, f"{stat.mountpoint} is mounted read-only: nothing can be written"))
        ttf = stat.time_to_full_seconds
        if ttf is not None and ttf < config.time_to_full_warning:
            conditions.append(Condition(f"fs:{stat.path}:FilesystemFillingUp", "FilesystemFillingUp", WARNING,
                                        where, f"at the recent rate it is full in {format_duration(ttf)}"))
    return conditions


def _space(stat: FilesystemStat, where: str, config: FilesystemConfig) -> list[Condition]:
    found = []
    for what, ratio in (("space", stat.free_ratio), ("inodes", stat.free_inodes_ratio)):
        if ratio is None or ratio >= config.warning_free_ratio:
            continue
        severity = CRITICAL if ratio < config.critical_free_ratio else WARNING
        detail = f"{stat.free_bytes / 2**30:.1f} GiB" if what == "space" else f"{stat.free_inodes} inodes"
        found.append(Condition(f"fs:{stat.path}:FilesystemLow:{what}", "FilesystemLow", severity, where,
                               f"{ratio:.1%} {what} free ({detail})"))
    return found


def target_conditions(status: dict[str, dict], config: AlertsConfig) -> list[Condition]:
    conditions = []
    for name, target in sorted(status.items()):
        subject = f"target {name}"
        if not target.get("up", True):
            conditions.append(Condition(f"target:{name}:TargetDown", "TargetDown", CRITICAL, subject,
                                        f"replica target {name} is down; {target.get('pending', 0)} files wait"))
        age = target.get("oldest_pending_seconds")
        if age is not None and age > config.backlog_age:
            conditions.append(Condition(
                f"target:{name}:ReplicationBacklogOld", "ReplicationBacklogOld", WARNING, subject,
                f"the oldest of {target.get('pending', 0)} pending files has waited {format_duration(age)}"))
        errors = target.get("consecutive_errors", 0) or 0
        if errors >= config.error_run:
            conditions.append(Condition(f"target:{name}:ReplicationErrors", "ReplicationErrors", WARNING, subject,
                                        f"{errors} replication errors in a row"))
    return conditions


def node_conditions(nodes: list[NodeRecord], me: str, limit: float, now: float) -> list[Condition]:
    """Other nodes of the fleet that did not stop cleanly and have not beaten for ``limit``: nobody
    replicates their uploads (the node itself cannot say so; the others read it from the journal)."""
    conditions = []
    for node in nodes:
        age = now - node.heartbeat_at
        if node.name == me or node.stopped_at is not None or age <= limit:
            continue
        conditions.append(Condition(f"node:{node.name}:NodeSilent", "NodeSilent", CRITICAL, f"node {node.name}",
                                    f"node {node.name} ({node.host}) has not beaten for {format_duration(age)} "
                                    "and did not stop: its uploads are not replicated"))
    return conditions


def scrub_conditions(target: str, run: ScrubRecord) -> list[Condition]:
    if not run.damaged:
        return []
    return [Condition(f"scrub:{target}:ScrubFoundDamage", "ScrubFoundDamage", CRITICAL, f"target {target}",
                      f"the scrub found {run.missing} missing and {run.corrupt} corrupt replica(s); "
                      f"stop jaga and run `jaga verify --target {target} --repair`")]

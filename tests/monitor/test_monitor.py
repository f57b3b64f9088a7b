"""The Monitor as the daemon runs it: alerts once, resolves, notifies, exports, schedules."""

from __future__ import annotations

from sqlalchemy import text
from prometheus_client import CollectorRegistry, generate_latest

from tests.monitor.helpers import make_config, wait_for
from monitor.service import Monitor


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def build(tmp_path, journal, fake, webhook=None, devices="auto", status=None, **smart):
    config = make_config(tmp_path, fake, devices=devices, webhook_url=webhook.url if webhook else None, **smart)
    clock = Clock()
    registry = CollectorRegistry()
    monitor = Monitor(config, journal, registry, status or (lambda: {}), [], clock=clock)
    return monitor, clock, registry


def test_rise_between_polls_alerts_once_and_resolves(tmp_path, journal, fake_smartctl, webhook):
    fake_smartctl.use("ata-seagate-st380011a-reallocated-pending")
    monitor, clock, _ = build(tmp_path, journal, fake_smartctl, webhook, devices=[{"name": "/dev/sda", "type": "ata"}])
    try:
        monitor.poll_disks_now()
        wait_for(lambda: webhook.named("DiskWarning"))
        # yesterday this disk had no pending sectors: make the stored previous poll say so
        with journal.session() as session:
            session.execute(text("UPDATE smart_samples SET value = '0', polled_at = :at WHERE attribute = 'ata_197'"),
                            {"at": clock.now + 1800 - 86400})
        clock.now += 1800
        [report] = monitor.poll_disks_now()
        assert "Current_Pending_Sector (197) rose to 661 (was 0 1d ago)" in report.reasons
        clock.now += 1800
        monitor.poll_disks_now()
        wait_for(lambda: webhook.named("DiskCounterRising", "resolved"))
        assert len(webhook.named("DiskCounterRising", "firing")) == 1
        assert len(webhook.named("DiskWarning")) == 1, "a warning that stays is not repeated every poll"
        rising = webhook.named("DiskCounterRising", "firing")[0]
        assert rising["summary"] == "Current_Pending_Sector (197) rose to 661 (was 0)"
        assert set(rising) >= {"name", "severity", "subject", "summary", "started", "status"}
        history = journal.alert_history("disk:sda:DiskCounterRising:ata_197")
        assert [h.state for h in history] == ["resolved"]
    finally:
        monitor.stop()


def test_vanished_device_alerts(tmp_path, journal, fake_smartctl, webhook):
    fake_smartctl.use("host-linux-2nvme-1megaraid")
    monitor, clock, registry = build(tmp_path, journal, fake_smartctl, webhook)
    try:
        monitor.poll_disks_now()
        fake_smartctl.update(gone=["/dev/nvme1"])
        clock.now += 1800
        monitor.poll_disks_now()
        [note] = wait_for(lambda: webhook.named("DiskUnknown"))
        assert note["severity"] == "critical" and "nvme1" in note["subject"]
        assert "vanished from the smartctl scan" in note["summary"]
        text = generate_latest(registry).decode()
        assert 'jaga_disk_health{device="nvme1"} 3.0' in text
        assert 'jaga_disk_poll_success{device="nvme1"} 0.0' in text
        assert 'jaga_alerts_firing{alertname="DiskUnknown",severity="critical"} 1.0' in text
        assert [a["alertname"] for a in monitor.firing_alerts()] == ["DiskUnknown"]
    finally:
        monitor.stop()


def test_metrics_after_a_poll(tmp_path, journal, fake_smartctl):
    fake_smartctl.use("nvme-skhynix-bc501-bogus-media-error-count")
    monitor, _, registry = build(tmp_path, journal, fake_smartctl, devices=[{"name": "/dev/nvme0", "type": "nvme"}])
    try:
        monitor.poll_disks_now()
        text = generate_latest(registry).decode()
        assert 'jaga_disk_health{device="nvme0"} 1.0' in text
        assert 'jaga_disk_nvme_media_errors{device="nvme0"} 4.457415897738955e+24' in text
        assert 'jaga_disk_temperature_celsius{device="nvme0"} 26.0' in text
        assert 'jaga_disk_nvme_available_spare_threshold_ratio{device="nvme0"} 0.05' in text
        assert 'model="SK hynix BC501 HFM256GDJTNG-8310A"' in text
        summary = monitor.disk_summary()
        assert summary[0]["health"] == "warning" and summary[0]["device"] == "nvme0"
    finally:
        monitor.stop()


def test_self_tests_never_on_first_poll_then_staggered(tmp_path, journal, fake_smartctl):
    fake_smartctl.use("host-linux-2nvme-1megaraid")
    monitor, clock, _ = build(tmp_path, journal, fake_smartctl)
    try:
        monitor.poll_disks_now()
        assert not [c for c in fake_smartctl.calls() if "_-t_" in c]
        clock.now += 8 * 86400       # every device is now overdue for its long test
        monitor.poll_disks_now()
        started = [c for c in fake_smartctl.calls() if "_-t_" in c]
        assert len(started) == 1 and "_-t_long_" in started[0], "one start per poll staggers the tests"
        clock.now += 1800
        monitor.poll_disks_now()
        started = [c for c in fake_smartctl.calls() if "_-t_" in c]
        assert len(started) == 2 and started[0] != started[1]
    finally:
        monitor.stop()


def test_target_alerts_fire_and_resolve(tmp_path, journal, fake_smartctl, webhook):
    status = {"secondary": {"up": False, "pending": 12, "oldest_pending_seconds": 3600.0, "consecutive_errors": 7}}
    monitor, _, _ = build(tmp_path, journal, fake_smartctl, webhook, status=lambda: status)
    try:
        monitor.evaluate_targets()
        names = {a["alertname"] for a in monitor.firing_alerts()}
        assert names == {"TargetDown", "ReplicationBacklogOld", "ReplicationErrors"}
        status["secondary"] = {"up": True, "pending": 0, "oldest_pending_seconds": None, "consecutive_errors": 0}
        monitor.evaluate_targets()
        assert monitor.firing_alerts() == []
        wait_for(lambda: len([n for n in webhook.received if n["status"] == "resolved"]) == 3)
    finally:
        monitor.stop()


def test_start_adds_jobs_that_poll_at_once(tmp_path, journal, fake_smartctl):
    from apscheduler.schedulers.background import BackgroundScheduler
    fake_smartctl.use("nvme-wdc-sn730-healthy")
    monitor, _, _ = build(tmp_path, journal, fake_smartctl, devices=[{"name": "/dev/nvme0", "type": "nvme"}])
    scheduler = BackgroundScheduler()
    scheduler.start()
    try:
        monitor.start(scheduler)
        summary = wait_for(monitor.disk_summary)
        assert summary[0]["health"] == "ok"
        wait_for(monitor.filesystem_summary)
        labels = {fs["label"] for fs in monitor.filesystem_summary()}
        assert labels == {"watch:uploads", "target:secondary", "journal"}
        assert monitor.watch_problems() == []
    finally:
        monitor.stop()
        scheduler.shutdown(wait=True)

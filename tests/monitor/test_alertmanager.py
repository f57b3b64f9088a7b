"""jaga's own alerts reach a real Alertmanager (Debian prometheus-alertmanager) on loopback, through
/api/v2/alerts: labels alertname, severity, instance, target/device; startsAt; endsAt held ahead while
firing and set to now on resolution."""

from __future__ import annotations

import shutil
import time
from datetime import datetime

import pytest

from monitor.alertmanager import AlertmanagerNotifier
from monitor.notify import Notification
from tests.harness import wait_for, write_file
from tests.servers.prometheus import ALERTMANAGER, Alertmanager, unavailable

pytestmark = pytest.mark.skipif(bool(unavailable(ALERTMANAGER)), reason=unavailable(ALERTMANAGER) or "")
STARTED = float(int(time.time()) - 600)   # Alertmanager refuses alerts that start in the future


@pytest.fixture
def alertmanager(tmp_path):
    server = Alertmanager(tmp_path / "am")
    yield server
    server.stop()


def by_name(alerts: list[dict]) -> dict[str, dict]:
    return {a["labels"]["alertname"]: a for a in alerts}


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_firing_and_resolved_alerts_carry_the_labels_routing_needs(alertmanager):
    clock = [STARTED + 60.0]
    notifier = AlertmanagerNotifier(alertmanager.url, timeout=5, hold=3600, instance="srv-a", clock=lambda: clock[0])
    disk = Notification("DiskFailing", "critical", "disk sda (ST3160815AS, serial 5MT0Z3)", "overall SMART "
                        "self-assessment: FAILED", STARTED, "firing", "disk:sda:DiskFailing")
    target = Notification("TargetDown", "critical", "target offsite", "replica target offsite is down; 3 files wait",
                          STARTED, "firing", "target:offsite:TargetDown")
    notifier.send_all([disk, target])
    alerts = wait_for(lambda: len(alertmanager.alerts(active=True)) == 2 and alertmanager.alerts(active=True),
                      message="both alerts in Alertmanager")
    got = by_name(alerts)
    assert got["DiskFailing"]["labels"] == {"alertname": "DiskFailing", "severity": "critical", "instance": "srv-a",
                                            "job": "jaga", "device": "sda"}
    assert got["TargetDown"]["labels"] == {"alertname": "TargetDown", "severity": "critical", "instance": "srv-a",
                                           "job": "jaga", "target": "offsite"}
    assert got["TargetDown"]["annotations"]["summary"] == target.summary
    assert at(got["TargetDown"]["startsAt"]) == STARTED
    assert at(got["TargetDown"]["endsAt"]) == STARTED + 60 + 3600, "held an hour ahead while firing"

    clock[0] = time.time()
    notifier.send(Notification("TargetDown", "critical", target.subject, target.summary, STARTED, "resolved",
                               target.key))
    wait_for(lambda: set(by_name(alertmanager.alerts(active=True))) == {"DiskFailing"},
             message="TargetDown resolved in Alertmanager, DiskFailing still firing")


def test_the_daemon_posts_target_down_and_its_resolution(alertmanager, deployment):
    deployment.doc["targets"].append({"name": "usb", "type": "local", "path": "usb"})
    deployment.doc["alerts"] = {"notify": [{"alertmanager": alertmanager.url, "instance": "srv-a"}],
                                "evaluate_every": "500ms"}
    deployment.write_config()
    deployment.start()
    usb = deployment.base / "usb"
    wait_for(lambda: (usb / ".jaga-target").exists(), message="usb initialised")
    marker = (usb / ".jaga-target").read_bytes()
    shutil.rmtree(usb)          # the disk fell off
    write_file(deployment.uploads / "a.pdf", b"a")

    def target_down():
        return [a for a in alertmanager.alerts(active=True) if a["labels"]["alertname"] == "TargetDown"]
    [alert] = wait_for(target_down, 30, message="TargetDown in Alertmanager")
    assert alert["labels"] == {"alertname": "TargetDown", "severity": "critical", "instance": "srv-a",
                               "job": "jaga", "target": "usb"}
    first_end = at(alert["endsAt"])
    wait_for(lambda: at(target_down()[0]["endsAt"]) > first_end, message="re-posted while firing")

    usb.mkdir()
    (usb / ".jaga-target").write_bytes(marker)   # plugged back in
    wait_for(lambda: not target_down(), 30, message="TargetDown resolved in Alertmanager")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), message="the backlog drained")

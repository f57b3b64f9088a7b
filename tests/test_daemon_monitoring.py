"""The running daemon watches the disks: a failing drive shows in status, on the page and at the webhook."""

import json
import shutil

import pytest

from tests.harness import RECORDINGS, REPO, wait_for, write_file
from tests.monitor.helpers import WebhookSink

FAILING = RECORDINGS / "ata-seagate-barracuda-st3160815as-failed"


def test_a_failing_disk_alerts_on_call_staff_and_shows_everywhere(deployment):
    sink = WebhookSink()
    try:
        deployment.doc["monitor"] = {"smart": {"enabled": True, "smartctl": str(REPO / "tests" / "fakes" / "smartctl"),
                                               "devices": [{"name": "/dev/sda", "type": "ata"}],
                                               "selftests": {"enabled": False}}}
        deployment.doc["alerts"] = {"notify": [{"webhook": sink.url}]}
        deployment.write_config()
        deployment.start(env={"JAGA_FAKE_SMARTCTL_DIR": str(FAILING)})

        wait_for(lambda: sink.named("DiskFailing", "firing"), timeout=30, message="DiskFailing at the webhook")
        note = sink.named("DiskFailing", "firing")[0]
        assert note["severity"] == "critical" and "ST3160815AS" in note["subject"]
        assert "Reallocated_Sector_Ct" in note["summary"]

        status = json.loads(deployment.cli("status", "--json").stdout)
        assert status["daemon"] == "running"
        assert [(d["device"], d["health"]) for d in status["disks"]] == [("sda", "failing")]
        assert [a["alertname"] for a in status["alerts"]] == ["DiskFailing"]
        assert deployment.metric("jaga_disk_health", device="sda") == 2

        _, page = deployment.http("/")
        assert b"data-disk='sda' data-health='failing'" in page and b"DiskFailing" in page

        write_file(deployment.uploads / "a.pdf", b"uploads still flow while a disk is failing")
        wait_for(lambda: deployment.is_verified(b"a.pdf"), message="replicated")
    finally:
        sink.close()


def test_jaga_disks_reads_the_recording_with_the_cli(deployment):
    deployment.doc["monitor"] = {"smart": {"smartctl": str(REPO / "tests" / "fakes" / "smartctl"),
                                           "devices": [{"name": "/dev/sda", "type": "ata"}]}}
    deployment.write_config()
    import os
    import subprocess
    from tests.harness import jaga_command
    result = subprocess.run(jaga_command("-c", str(deployment.config_path), "disks", "--json"), capture_output=True,
                            text=True, env={**os.environ, "JAGA_FAKE_SMARTCTL_DIR": str(FAILING)})
    assert result.returncode == 1
    (disk,) = json.loads(result.stdout)["disks"]
    assert disk["health"] == "failing" and disk["model"] == "ST3160815AS"


@pytest.mark.skipif(shutil.which("smartctl") is None, reason="smartctl is not installed (.ci/run installs it)")
def test_a_vm_without_smart_disks_says_so_on_the_metric_the_api_and_the_page(deployment):
    """The real smartctl on this machine: its scan lists no disk, and nobody must believe the disk
    under the uploads is watched."""
    from monitor.coverage import describe_disk
    from monitor.filesystems import disks_of, mount_of
    deployment.doc["monitor"] = {"smart": {"enabled": True, "smartctl": "smartctl", "selftests": {"enabled": False}}}
    deployment.write_config()
    deployment.start()
    uploads = str(deployment.uploads)
    device = mount_of(deployment.uploads).device
    [disk] = disks_of(device) if device.startswith("/dev/") else [""]
    reason = "virtual_disk" if disk and describe_disk(disk)[1] else None

    def coverage():
        items = json.loads(deployment.http("/api/status")[1])["smart_coverage"]
        return [c for c in items if c["label"] == "watch:uploads"]
    [item] = wait_for(coverage, 30, message="SMART coverage known")
    assert item["covered"] is False and item["disk"] == disk and (reason is None or item["reason"] == reason)
    assert deployment.metric("jaga_smart_coverage", path=uploads, label="watch:uploads", disk=disk,
                             reason=item["reason"]) == 0
    _, page = deployment.http("/")
    assert b"id='smart-coverage'" in page and f"data-coverage='{item['reason']}'".encode() in page
    assert b"No SMART data yet" not in page

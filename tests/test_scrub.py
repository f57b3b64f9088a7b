"""The daemon's scheduled scrub re-reads replicas, records what it found, and alerts on damage."""

import os

from tests.harness import wait_for, write_file


def test_a_scheduled_scrub_finds_a_corrupted_replica_and_alerts(deployment):
    deployment.doc["scrub"] = {"interval": "3s", "rate": "100MiB"}
    deployment.write_config()
    deployment.start()
    for i in range(5):
        write_file(deployment.uploads / f"{i}.pdf", os.urandom(10_000))
    wait_for(lambda: deployment.verified_count() == 5, message="replicated")
    with open(deployment.replica_data / "3.pdf", "r+b") as handle:
        handle.write(b"bitrot")

    wait_for(lambda: deployment.metric("jaga_scrub_problems", target="secondary", kind="corrupt") == 1,
             timeout=30, message="the scrub noticing the corrupt replica")
    assert deployment.metric("jaga_scrub_problems", target="secondary", kind="missing") == 0
    assert deployment.metric("jaga_scrub_files_checked_total", target="secondary") >= 5
    wait_for(lambda: deployment.journal_rows("SELECT state FROM alerts WHERE alertname = 'ScrubFoundDamage'")
             == [("firing",)], message="a ScrubFoundDamage alert")
    assert (5, 1) in deployment.journal_rows("SELECT checked, corrupt FROM scrubs")

    assert deployment.stop() == 0  # a repair writes replicas: refused while the daemon runs
    assert deployment.cli("verify", "--repair").returncode == 1  # found it, and repaired it
    deployment.start()
    wait_for(lambda: deployment.metric("jaga_scrub_problems", target="secondary", kind="corrupt") == 0,
             timeout=30, message="a clean scrub after the repair")
    wait_for(lambda: deployment.journal_rows("SELECT state FROM alerts WHERE alertname = 'ScrubFoundDamage'")
             == [("resolved",)], message="the alert resolved")

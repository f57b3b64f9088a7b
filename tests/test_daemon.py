"""The daemon end to end: a file the upload app finishes writing is journaled, replicated, verified."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import needs_binary
from tests.harness import sha256_file, temporaries, wait_for, write_file
from tests.invariants import assert_all_replicated


def test_a_closed_file_is_replicated_verified_and_counted(deployment):
    deployment.start()
    data = os.urandom(300_000)
    write_file(deployment.uploads / "hibah" / "proposal-001.pdf", data)

    wait_for(lambda: deployment.is_verified(b"hibah/proposal-001.pdf"), message="verified replica")
    replica = deployment.replica_data / "hibah" / "proposal-001.pdf"
    assert replica.read_bytes() == data
    (sha,) = deployment.journal_rows("SELECT sha256 FROM versions")[0]
    assert sha == sha256_file(replica)
    # counters move just after the journal commits what they count: wait for them (they never go back)
    def counted():
        return (deployment.metric("jaga_files_ingested_total", watch="uploads"),
                deployment.metric("jaga_bytes_ingested_total", watch="uploads"),
                deployment.metric("jaga_replicas_verified_total", target="secondary"),
                deployment.metric("jaga_target_up", target="secondary"))
    wait_for(lambda: counted() == (1, len(data), 1, 1), message="ingested, bytes, verified and up counted")
    status = deployment.status()
    assert status["files"] == 1 and status["bytes"] == len(data)
    assert status["targets"]["secondary"] == {**status["targets"]["secondary"], "verified": 1, "pending": 0,
                                              "failed": 0, "up": True}


def test_a_renamed_in_file_is_complete_at_once_and_temporary_names_are_ignored(deployment):
    deployment.doc["ingest"]["settle"] = "1h"  # only the rename can make it complete
    deployment.write_config()
    (deployment.uploads / "bansos").mkdir()  # an existing folder: a brand-new one relies on settling
    deployment.start()
    write_file(deployment.uploads / "bansos" / "scan.jpg.part", b"x" * 5000)
    os.replace(deployment.uploads / "bansos" / "scan.jpg.part", deployment.uploads / "bansos" / "scan.jpg")
    wait_for(lambda: deployment.is_verified(b"bansos/scan.jpg"), message="renamed file verified")
    paths = [bytes(p) for (p,) in deployment.journal_rows("SELECT path FROM files")]
    assert paths == [b"bansos/scan.jpg"], "the .part name must never be journaled"


def test_a_copy_to_nginx_temporary_name_renamed_late_is_never_journaled_under_that_name(deployment):
    """nginx's WebDAV PUT with its body buffer on another filesystem copies to ``<name>.<10 digits>``
    and renames; under load the rename can come well after the close. A file never renamed is kept."""
    deployment.doc["ingest"]["settle"] = "2s"
    deployment.write_config()
    (deployment.uploads / "dav").mkdir()
    deployment.start()
    write_file(deployment.uploads / "dav" / "doc.pdf.0000000008", b"proposal" * 1000)
    time.sleep(1.0)  # the fault itself: the client renames a second after its close (the window is 2 s)
    os.replace(deployment.uploads / "dav" / "doc.pdf.0000000008", deployment.uploads / "dav" / "doc.pdf")
    write_file(deployment.uploads / "dav" / "kept.0000000009", b"never renamed")
    wait_for(lambda: deployment.is_verified(b"dav/doc.pdf") and deployment.is_verified(b"dav/kept.0000000009"),
             message="the renamed file and the one never renamed verified")
    paths = sorted(bytes(p) for (p,) in deployment.journal_rows("SELECT path FROM files"))
    assert paths == [b"dav/doc.pdf", b"dav/kept.0000000009"], "the temporary name must never be journaled"


def test_files_written_while_stopped_are_found_by_the_startup_reconcile(deployment):
    write_file(deployment.uploads / "old" / "a.pdf", b"written before jaga started")
    past = 1_600_000_000
    os.utime(deployment.uploads / "old" / "a.pdf", (past, past))
    deployment.start()
    wait_for(lambda: deployment.is_verified(b"old/a.pdf"), message="reconciled file verified")
    assert os.stat(deployment.replica_data / "old" / "a.pdf").st_mtime == past, "replica keeps the mtime"


def test_a_changed_file_becomes_a_new_version_and_the_old_replica_is_kept(deployment):
    deployment.start()
    path = deployment.uploads / "p.pdf"
    write_file(path, b"first draft")
    wait_for(lambda: deployment.is_verified(b"p.pdf"), message="v1 verified")
    write_file(path, b"second, longer draft")
    wait_for(lambda: deployment.journal_rows("SELECT current_version FROM files")[0][0] == 2
             and deployment.is_verified(b"p.pdf"), message="v2 verified")
    assert (deployment.replica_data / "p.pdf").read_bytes() == b"second, longer draft"
    kept = deployment.replica / ".jaga" / "versions" / "uploads" / "p.pdf" / "1"
    assert kept.read_bytes() == b"first draft"


def test_a_deleted_source_keeps_its_replica(deployment):
    deployment.start()
    write_file(deployment.uploads / "gone.pdf", b"keep me")
    wait_for(lambda: deployment.is_verified(b"gone.pdf"), message="verified")
    os.unlink(deployment.uploads / "gone.pdf")
    wait_for(lambda: deployment.journal_rows("SELECT deleted_at FROM files")[0][0] is not None,
             message="deletion recorded")
    assert (deployment.replica_data / "gone.pdf").read_bytes() == b"keep me"


def test_sigterm_stops_within_ten_seconds_leaving_no_temporaries(deployment):
    deployment.start()
    for i in range(200):
        write_file(deployment.uploads / f"f{i:03}.bin", os.urandom(200_000))
    wait_for(lambda: deployment.metric("jaga_replicas_verified_total", target="secondary") > 0,
             message="copies under way")
    assert deployment.stop(signal.SIGTERM, timeout=10) == 0
    assert temporaries(deployment.replica) == []
    states = [s for (s,) in deployment.journal_rows("SELECT state FROM replicas")]
    assert "copying" not in states, "a clean stop records every copy it finished or gave back"
    result = deployment.cli("sync")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_all_replicated(deployment)


def test_signals_that_arrive_together_still_stop_the_daemon(deployment):
    """`make run` stopped with Ctrl-C or a process-group kill: make passes the SIGTERM on to jaga, which
    already has one, so two land at once (and an impatient operator presses Ctrl-C twice). A handler that
    takes a lock (threading.Event.set) deadlocked when the second signal arrived inside the first: the
    daemon never stopped and kept its writer lock. A burst of TERM, HUP and INT must stop it cleanly."""
    deployment.start()
    for sig in [signal.SIGHUP] * 3000 + [signal.SIGTERM, signal.SIGINT] * 50:
        deployment.process.send_signal(sig)
    assert deployment.stop(signal.SIGTERM, timeout=15) == 0, deployment.log_tail()
    assert deployment.logged("stopped")


def test_after_kill_9_the_next_start_resumes_and_cleans_up(deployment):
    deployment.start()
    for i in range(100):
        write_file(deployment.uploads / "batch" / f"{i:03}.bin", os.urandom(100_000))
    wait_for(lambda: deployment.metric("jaga_files_ingested_total", watch="uploads") >= 20,
             message="ingest under way")
    deployment.kill()
    # what a crash mid-copy leaves: a temporary beside the replica
    leftover = deployment.replica_data / "batch" / ".jaga-tmp-deadbeefdeadbeef"
    write_file(leftover, b"half a copy")
    deployment.start()
    wait_for(lambda: deployment.verified_count() == 100, timeout=60, message="all 100 verified after restart")
    assert not leftover.exists()
    assert_all_replicated(deployment)


def test_sync_replicates_everything_and_exits_0(deployment):
    for i in range(30):
        write_file(deployment.uploads / "s" / f"{i}.pdf", os.urandom(1000 + i))
        os.utime(deployment.uploads / "s" / f"{i}.pdf", (1_600_000_000, 1_600_000_000))
    result = deployment.cli("sync")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_all_replicated(deployment)
    status = json.loads(deployment.cli("status", "--json").stdout)
    assert status["targets"]["secondary"]["verified"] == 30


def test_sync_exits_1_when_a_target_cannot_take_the_files(deployment):
    write_file(deployment.uploads / "a.pdf", b"x")
    os.utime(deployment.uploads / "a.pdf", (1_600_000_000, 1_600_000_000))
    assert deployment.cli("sync").returncode == 0
    (deployment.replica / ".jaga-target").unlink()  # as if the disk were unmounted
    write_file(deployment.uploads / "b.pdf", b"y")
    os.utime(deployment.uploads / "b.pdf", (1_600_000_000, 1_600_000_000))
    result = deployment.cli("sync")
    assert result.returncode == 1
    assert not (deployment.replica_data / "b.pdf").exists()


@needs_binary("promtool")
def test_metrics_pass_promtool_check(deployment):
    deployment.start()
    write_file(deployment.uploads / "a.pdf", b"x")
    wait_for(lambda: deployment.is_verified(b"a.pdf"), message="verified")
    _, body = deployment.http("/metrics")
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def private_network() -> list[str]:
    """A wrapper running the daemon in a network namespace of its own (loopback up), so the default port
    9108 is free there whatever else runs on this machine (other checkouts run this test too)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare (util-linux) and ip (iproute2) are needed for a private network namespace")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    wrapper = ["unshare", *user, "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    if subprocess.run([*wrapper, "true"], capture_output=True).returncode != 0:
        pytest.skip("network namespaces are not available here (root, or user namespaces, needed)")
    return wrapper


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket ``pid`` listens on, read in its own network namespace
    (psutil reads the caller's /proc/net/tcp and would find none)."""
    import ipaddress
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # host-order words
                found.append((str(ipaddress.ip_address(raw)), int(port, 16)))
    return found


def test_with_no_metrics_section_the_daemon_listens_on_loopback_only(deployment):
    """Safe by default: the real socket, not just the config default."""
    def listening():
        if deployment.process.poll() is not None:
            raise AssertionError(f"daemon exited: {deployment.log_tail()}")
        return listening_sockets(deployment.process.pid)

    del deployment.doc["metrics"]
    deployment.write_config()
    deployment.start(wrapper=private_network(), ready=lambda: deployment.logged("jaga started") and listening())
    assert listening() == [("127.0.0.1", 9108)]


def test_the_daemon_runs_on_a_postgresql_journal(tmp_path, postgres):
    from tests.harness import Deployment
    deployment = Deployment(tmp_path)
    deployment.doc["journal"]["url"] = postgres.create_database("daemon_e2e")
    deployment.write_config()
    deployment.start()
    try:
        for i in range(20):
            write_file(deployment.uploads / f"{i}.pdf", os.urandom(5000))
        wait_for(lambda: deployment.verified_count() == 20, message="20 verified on PostgreSQL")
        assert (deployment.replica_data / "19.pdf").read_bytes() == (deployment.uploads / "19.pdf").read_bytes()
    finally:
        deployment.stop()


def test_a_file_moved_in_from_outside_the_tree_is_complete_at_once(deployment, tmp_path):
    deployment.doc["ingest"]["settle"] = "1h"  # only the rename can make it complete
    deployment.write_config()
    (deployment.uploads / "inbox").mkdir()
    deployment.start()
    outside = tmp_path / "staging.pdf"
    outside.write_bytes(b"written elsewhere, then moved into the upload folder")
    os.rename(outside, deployment.uploads / "inbox" / "moved.pdf")
    wait_for(lambda: deployment.is_verified(b"inbox/moved.pdf"), message="moved-in file verified")


def test_a_fresh_checkout_without_var_starts_with_make_run(tmp_path):
    """`make run` on a new clone: neither var/ (the journal's folder) nor var/uploads exist yet. The
    Makefile creates ./var/uploads for the repo's default config; jaga alone refuses a missing watch
    folder (a typo in a real config must not become an empty folder reported safe)."""
    import subprocess
    import sys
    from tests.harness import REPO, free_port, jaga_command
    config = tmp_path / "config.yaml"
    port = free_port()
    config.write_text((REPO / "config.yaml").read_text().replace("127.0.0.1:9108", f"127.0.0.1:{port}")
                      .replace("    smartctl: smartctl\n", "    enabled: false\n"))
    alone = subprocess.run(jaga_command("-c", str(config), "run"), capture_output=True, text=True, timeout=60)
    assert alone.returncode == 2 and "watch folder" in alone.stderr and not (tmp_path / "var" / "uploads").exists()

    venv = Path(sys.executable).parent.parent
    daemon = subprocess.Popen(["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-C", str(tmp_path),
                               "-o", f"{venv}/.installed", f"VENV={venv}", "run"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (tmp_path / "var" / "replica" / ".jaga-target").exists() or daemon.poll() is not None,
                 30, message="make run starting the daemon")
        assert daemon.poll() is None, daemon.stderr.read().decode()
        write_file(tmp_path / "var" / "uploads" / "first.pdf", b"the first proposal")
        wait_for(lambda: (tmp_path / "var" / "replica" / "uploads" / "first.pdf").exists(),
                 message="replicated under ./var/replica")
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)  # leave no daemon behind, then fail
            raise AssertionError("make run did not stop within 10 s of SIGTERM") from None

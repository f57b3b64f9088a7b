"""Bad input gets a clear error and loses nothing; the daemon keeps running."""

import os
import stat
import threading
import time

import pytest

from replication.target import ManifestEntry
from tests.harness import sha256_file, temporaries, wait_for, write_file
from tests.invariants import assert_all_replicated
from tests.shims import read_gate


def skip_reasons(deployment) -> dict[bytes, str]:
    return {bytes(p): r for p, r in deployment.journal_rows("SELECT path, reason FROM skips")}


def test_a_symlink_out_of_the_tree_is_not_followed_and_recorded_as_skipped(deployment, tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    write_file(secret, b"not for the replica")
    deployment.start()
    os.symlink(secret, deployment.uploads / "link.pdf")
    os.symlink(secret.parent, deployment.uploads / "linkdir")
    write_file(deployment.uploads / "after.pdf", b"still flowing")
    wait_for(lambda: deployment.is_verified(b"after.pdf"), message="a normal file after the symlink")
    wait_for(lambda: skip_reasons(deployment) == {b"link.pdf": "symlink", b"linkdir": "symlink"},
             message="both symlinks skipped")
    assert not (deployment.replica_data / "link.pdf").exists()
    assert not (deployment.replica_data / "linkdir").exists()
    # the log line and the counter follow the journal's commit
    wait_for(lambda: deployment.metric("jaga_files_skipped_total", watch="uploads", reason="symlink") >= 2,
             message="both symlinks counted")
    assert deployment.logged("link.pdf", "not followed") and deployment.logged("linkdir", "not followed")


def test_a_symlink_loop_is_skipped(deployment):
    deployment.start()
    os.symlink("loop-b", deployment.uploads / "loop-a")
    os.symlink("loop-a", deployment.uploads / "loop-b")
    write_file(deployment.uploads / "ok.pdf", b"ok")
    wait_for(lambda: deployment.is_verified(b"ok.pdf"), message="normal file")
    assert deployment.stop() == 0  # sync is refused while the daemon writes the journal
    result = deployment.cli("sync")  # a full reconcile walks past the loop too
    assert result.returncode == 0, result.stderr
    assert skip_reasons(deployment).get(b"loop-a") == "symlink"


def test_a_fifo_does_not_hang_the_daemon(deployment):
    deployment.start()
    os.mkfifo(deployment.uploads / "pipe.pdf")
    for i in range(5):
        write_file(deployment.uploads / f"after-{i}.pdf", b"x" * i)
    wait_for(lambda: all(deployment.is_verified(f"after-{i}.pdf".encode()) for i in range(5)),
             message="files after the fifo")
    wait_for(lambda: skip_reasons(deployment).get(b"pipe.pdf") == "fifo", message="fifo skipped")
    assert deployment.stop() == 0  # sync is refused while the daemon writes the journal
    assert deployment.cli("sync").returncode == 0


def test_a_file_deleted_before_it_is_copied_is_not_an_error(deployment):
    deployment.start()
    write_file(deployment.uploads / "first.pdf", b"initialises the target")
    wait_for(lambda: deployment.is_verified(b"first.pdf"), message="target initialised")
    marker = deployment.replica / ".jaga-target"
    saved = marker.read_bytes()
    marker.unlink()  # the target goes down: the next file is journaled but cannot be copied
    write_file(deployment.uploads / "short-lived.pdf", b"soon gone")
    wait_for(lambda: deployment.replica_states().get(b"short-lived.pdf") == ["pending"], message="journaled")
    os.unlink(deployment.uploads / "short-lived.pdf")
    wait_for(lambda: deployment.replica_states().get(b"short-lived.pdf") == ["superseded"],
             message="the pending copy given up because the source is gone")
    marker.write_bytes(saved)
    write_file(deployment.uploads / "stays.pdf", b"here")
    wait_for(lambda: deployment.is_verified(b"stays.pdf"), message="the next file")
    assert not (deployment.replica_data / "short-lived.pdf").exists()
    assert deployment.metric("jaga_replication_errors_total", target="secondary") == 0


def test_a_file_rewritten_during_the_copy_is_observed_again_not_verified(deployment):
    deployment.start()
    path = deployment.uploads / "big.bin"
    stop = threading.Event()

    def rewrite():
        n = 0
        while not stop.is_set():
            n += 1
            write_file(path, bytes([n % 256]) * 8_000_000)

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        wait_for(lambda: deployment.log_text().count("observing it again") >= 1, timeout=30,
                 message="a copy noticing the change")
    finally:
        stop.set()
        writer.join()
    wait_for(lambda: deployment.is_verified(b"big.bin"), timeout=30, message="final version verified")
    assert (deployment.replica_data / "big.bin").read_bytes() == path.read_bytes()
    assert_all_replicated(deployment)


def test_a_file_truncated_during_the_copy_is_not_verified(deployment, tmp_path):
    """The copy is held inside its second read() of the file (the first MiB is already in a temporary
    on the target) while the file is truncated; then it goes on and reads the short file."""
    path = deployment.uploads / "t.bin"
    gate = read_gate(tmp_path, path)
    if gate is None:
        pytest.skip("no C compiler to build the read gate (.ci/run installs gcc and libc6-dev)")
    deployment.start(env=gate.environ())
    write_file(path, os.urandom(20_000_000))
    wait_for(gate.paused, timeout=30, message="the copy of t.bin paused after its first chunk")
    assert temporaries(deployment.replica) != [], "the copy is in flight: its temporary is on the target"
    assert not deployment.is_verified(b"t.bin")
    with open(path, "r+b") as handle:
        handle.truncate(1000)
    gate.release()

    wait_for(lambda: deployment.journal_rows("SELECT current_version FROM files") == [(2,)]
             and deployment.is_verified(b"t.bin"), timeout=30, message="the truncated version verified")
    assert (deployment.replica_data / "t.bin").read_bytes() == path.read_bytes()
    manifest = [ManifestEntry.from_json(line) for line in
                (deployment.replica / ".jaga" / "manifest.jsonl").read_text().splitlines()]
    assert [(e.key, e.version, e.size, e.sha256) for e in manifest] == [
        (b"uploads/t.bin", 2, 1000, sha256_file(path))], "only the whole, final bytes are on record for restore"
    assert not (deployment.replica / ".jaga" / "versions" / "uploads" / "t.bin").exists(), "no torn v1 kept"
    states = deployment.journal_rows("SELECT v.number, v.size, r.state FROM replicas r JOIN versions v "
                                     "ON v.id = r.version_id ORDER BY v.number")
    assert states[0][:2] == (1, 20_000_000) and states[0][2] != "verified", states
    assert states[1] == (2, 1000, "verified"), states
    assert deployment.logged("t.bin", "during the copy", "observing it again"), deployment.log_tail()
    assert_all_replicated(deployment)


@pytest.mark.parametrize("name", [b"caf\xe9-latin1.pdf", b"line\nbreak.pdf", b"tab\there.pdf",
                                  b"\xff\xfe-raw.pdf", "proposal-\u00e9t\u00e9-\u6587.pdf".encode(),
                                  b"a" * 255, b"-dash", b"space at end "])
def test_odd_names_round_trip_byte_for_byte(deployment, name):
    deployment.start()
    path = os.path.join(os.fsencode(deployment.uploads), name)
    write_file(path, b"content of " + name)
    wait_for(lambda: deployment.is_verified(name), message=f"{name!r} verified")
    replica = os.path.join(os.fsencode(deployment.replica_data), name)
    with open(replica, "rb") as handle:
        assert handle.read() == b"content of " + name
    paths = [bytes(p) for (p,) in deployment.journal_rows("SELECT path FROM files")]
    assert paths == [name]


def test_sixty_level_deep_folders(deployment):
    deployment.start()
    rel = b"/".join(b"d%02d" % i for i in range(60)) + b"/deep.pdf"
    write_file(os.path.join(os.fsencode(deployment.uploads), rel), b"deep")
    wait_for(lambda: deployment.is_verified(rel), timeout=30, message="deep file verified")
    assert_all_replicated(deployment)


def test_an_empty_file_is_replicated(deployment):
    deployment.start()
    write_file(deployment.uploads / "empty.pdf", b"")
    wait_for(lambda: deployment.is_verified(b"empty.pdf"), message="empty file verified")
    assert (deployment.replica_data / "empty.pdf").read_bytes() == b""


def test_a_file_still_being_appended_to_is_not_replicated_before_it_settles(deployment):
    deployment.doc["ingest"]["settle"] = "2s"  # 8 times the gap between appends: a slow machine stays inside it
    deployment.write_config()
    deployment.start()
    with open(deployment.uploads / "growing.log.pdf", "wb") as handle:
        for _ in range(12):  # 3 s of appends, longer than the settle window, each well inside it
            handle.write(b"more\n")
            handle.flush()
            time.sleep(0.25)
            assert not deployment.journal_rows("SELECT 1 FROM files"), "journaled while still growing"
    wait_for(lambda: deployment.is_verified(b"growing.log.pdf"), message="settled file verified")
    assert (deployment.replica_data / "growing.log.pdf").read_bytes() == b"more\n" * 12


def test_a_file_made_a_moment_before_its_writer_opens_it_is_one_version(deployment):
    """A new file exists, empty and open for writing by nobody, between its creation and its creator's
    open (an instant inside open(O_CREAT); here stretched to 0.3 s with mknod): the empty file is not a
    finished upload, and recording it made two versions of one upload."""
    deployment.doc["ingest"]["settle"] = "3s"  # ten times the creator's pause: a slow machine stays inside it
    deployment.write_config()
    deployment.start()
    path = deployment.uploads / "late-open.pdf"
    os.mknod(path, 0o644 | stat.S_IFREG)
    time.sleep(0.3)  # the scenario: a creator that opens its file a moment after making it
    with open(path, "r+b") as handle:
        handle.write(b"the proposal")
    wait_for(lambda: deployment.is_verified(b"late-open.pdf"), message="the upload verified")
    versions = deployment.journal_rows("SELECT v.size FROM versions v JOIN files f ON f.id = v.file_id "
                                       "WHERE f.path = ?", (b"late-open.pdf",))
    assert versions == [(12,)], f"one version of the finished upload, not {versions}"


def test_a_burst_of_1000_files_into_new_nested_folders_is_all_replicated(deployment):
    deployment.start()
    for i in range(1000):
        write_file(deployment.uploads / f"burst{i % 10}" / f"sub{i % 7}" / f"deeper{i % 3}" / f"{i:04}.pdf",
                   b"%d" % i * 50)
    wait_for(lambda: deployment.verified_count() >= 1000, timeout=120, interval=0.5,
             message="1000 files verified")
    versions = deployment.journal_rows("SELECT count(*) FROM versions")[0][0]
    assert versions == 1000, f"{versions} versions of 1000 uploads written once each"
    assert_all_replicated(deployment)


def test_a_folder_renamed_inside_the_tree_is_recorded_under_its_new_name(deployment):
    deployment.start()
    for i in range(5):
        write_file(deployment.uploads / "draft" / f"{i}.pdf", b"%d" % i)
    wait_for(lambda: deployment.verified_count() == 5, message="first names verified")
    os.rename(deployment.uploads / "draft", deployment.uploads / "final")
    wait_for(lambda: all(deployment.is_verified(f"final/{i}.pdf".encode()) for i in range(5)),
             message="new names verified")
    assert (deployment.replica_data / "draft" / "0.pdf").exists(), "old replicas are kept"
    assert (deployment.replica_data / "final" / "4.pdf").read_bytes() == b"4"


def test_a_broken_config_file_is_refused_with_the_key_and_exit_2(tmp_path):
    from tests.harness import jaga_command
    import subprocess
    config = tmp_path / "bad.yaml"
    config.write_text("watch:\n  - path: up\n    ignroe: ['*.x']\ntargets:\n  - name: s\n    type: local\n"
                      "    path: r\ningest:\n  settle: soon\n")
    result = subprocess.run(jaga_command("-c", str(config), "check-config"), capture_output=True, text=True)
    assert result.returncode == 2
    assert "watch.0.ignroe: unknown key" in result.stderr
    assert "ingest.settle" in result.stderr and "not a duration" in result.stderr
    config.write_text("watch: [unclosed")
    result = subprocess.run(jaga_command("-c", str(config), "run"), capture_output=True, text=True)
    assert result.returncode == 2 and "not valid YAML" in result.stderr


def test_a_folder_inotify_cannot_watch_is_found_by_rescans(deployment):
    """The inotify watch limit is per user namespace: run the daemon in one with room for 3 watches."""
    import shutil
    import subprocess
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces are not available here")
    for i in range(2):
        (deployment.uploads / f"existing{i}").mkdir()  # root + 2 folders: the limit is reached
    deployment.doc["ingest"].update(settle="300ms", watch_check="1s")
    deployment.write_config()
    deployment.start(wrapper=["unshare", "--user", "--map-root-user", "sh", "-c",
                              'echo 3 > /proc/sys/user/max_inotify_watches && exec "$@"', "sh"])
    write_file(deployment.uploads / "new-folder" / "inside.pdf", b"written where no watch could be added")
    wait_for(lambda: deployment.metric("jaga_watch_failures_total") == 1, message="the failed watch counted")
    assert deployment.logged("could not watch", "new-folder", "ENOSPC", "max_user_watches is 3", "jaga holds 3")
    write_file(deployment.uploads / "new-folder" / "later.pdf", b"no event will ever say this exists")
    wait_for(lambda: deployment.is_verified(b"new-folder/later.pdf"), timeout=30,
             message="a file in the unwatched folder found by a rescan")
    os.rmdir(deployment.uploads / "existing0")  # frees a watch: the check of the watches retries the folder
    wait_for(lambda: "new-folder is watched now" in deployment.log_text(), timeout=15,
             message="the unwatched folder watched once a watch is free (and off the rescan list)")
    write_file(deployment.uploads / "new-folder" / "evented.pdf", b"seen by its own event now")
    wait_for(lambda: deployment.is_verified(b"new-folder/evented.pdf"), timeout=5,
             message="a file in the now watched folder, without waiting for a rescan")
    assert_all_replicated(deployment)


def test_an_inotify_queue_overflow_triggers_a_rescan_and_loses_nothing(deployment):
    """The kernel drops events past fs.inotify.max_queued_events; jaga must notice and rescan."""
    limit = "/proc/sys/fs/inotify/max_queued_events"
    if os.geteuid() != 0 or not os.access(limit, os.W_OK):
        pytest.skip("needs root to lower fs.inotify.max_queued_events")
    with open(limit) as handle:
        saved = handle.read().strip()
    deployment.doc["ingest"]["settle"] = "200ms"
    deployment.write_config()
    try:
        with open(limit, "w") as handle:
            handle.write("8")  # read once, when the daemon's inotify instance is created
        deployment.start()
    finally:
        with open(limit, "w") as handle:
            handle.write(saved)
    for i in range(400):
        write_file(deployment.uploads / f"flood-{i:03}.pdf", b"%d" % i)
    wait_for(lambda: (deployment.metric("jaga_reconcile_scans_total", reason="events_lost") or 0) >= 1,
             message="a rescan for the lost events")
    assert deployment.logged("events were lost")  # logged before it is counted
    wait_for(lambda: deployment.verified_count() == 400, timeout=60, message="every file despite the overflow")
    assert_all_replicated(deployment)

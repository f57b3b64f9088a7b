"""`jaga restore` never reports success with wrong bytes: a stale file in the way is hash-checked and
moved aside, a refused manifest line does not move the good files, and a restore killed with SIGKILL
leaves nothing the next one does not clean up."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from replication.target import ManifestEntry
from tests.harness import jaga_command, write_file
from tests.invariants import assert_invariants, restore_temporaries, source_files
from tests.reliability.rig import wait_for
from tests.servers.fixtures import sshd_server  # noqa: F401

OLD = 1_600_000_000


def populate(d, count: int, size: int = 3000) -> dict[bytes, bytes]:
    contents = {}
    for i in range(count):
        rel = f"hibah/desa-{i % 3}/proposal-{i}.pdf"
        contents[rel.encode()] = os.urandom(size + i)
        write_file(d.uploads / rel, contents[rel.encode()])
        os.utime(d.uploads / rel, (OLD + i, OLD + i))
    result = d.cli("sync")
    assert result.returncode == 0, result.stdout + result.stderr
    return contents


def tree(root: Path) -> dict[bytes, str]:
    """rel → SHA-256 of every file restored (not jaga's own dot-folders)."""
    return {rel: hashlib.sha256(path.read_bytes()).hexdigest() for rel, path in source_files(root).items()}


def hashed(contents: dict[bytes, bytes]) -> dict[bytes, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in contents.items()}


def test_a_stale_file_with_the_replicas_size_and_mtime_is_not_called_already_in_place(rig):
    d = rig.deployment()
    contents = populate(d, 6)
    dest = rig.base / "restored"
    assert d.cli("restore", "--from", "secondary", "--to", str(dest)).returncode == 0
    stale, other = b"hibah/desa-0/proposal-0.pdf", b"hibah/desa-1/proposal-1.pdf"
    stale_path, other_path = dest / os.fsdecode(stale), dest / os.fsdecode(other)
    stale_bytes = bytes(b ^ 0xFF for b in contents[stale])  # same size, other bytes, same mtime
    stale_path.write_bytes(stale_bytes)
    os.utime(stale_path, (OLD, OLD))
    other_path.write_bytes(b"someone's own edit")  # a file restore did not write

    result = d.cli("restore", "--from", "secondary", "--to", str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(dest) == hashed(contents), "restore left wrong bytes in place"
    assert "4 already in place" in result.stdout, result.stdout
    aside = sorted(dest.glob(".jaga-aside/*/hibah/desa-*/*"))
    assert sorted(p.read_bytes() for p in aside) == sorted([stale_bytes, b"someone's own edit"]), aside
    for path in aside:
        assert str(path.relative_to(dest)) in result.stdout, "the report says where each file went"
    d.stop()
    assert_invariants(d, restored=(dest,))


def test_one_refused_manifest_line_does_not_move_the_good_files(rig):
    d = rig.deployment()
    contents = populate(d, 4)
    with open(d.replica / ".jaga" / "manifest.jsonl", "a") as handle:
        handle.write(ManifestEntry(b"/etc/shadow", 1, 4, "0" * 64, OLD, time.time()).to_json() + "\n")
    dest = rig.base / "restored"
    result = d.cli("restore", "--from", "secondary", "--to", str(dest))
    assert result.returncode == 1 and "1 refused" in result.stdout, result.stdout
    assert tree(dest) == hashed(contents), f"the good files must land where they were: {sorted(tree(dest))}"


def test_a_restore_killed_mid_file_leaves_temporaries_the_next_one_removes(rig, sshd_server):
    root = sshd_server.remote_dir("killed-restore")
    slow = sshd_server.target_config("offsite", root, bandwidth=256 * 1024)  # the file takes 1.5 s
    d = rig.deployment(targets=[slow.model_dump(mode="json", exclude_none=True)])
    contents = populate(d, 1, size=384 * 1024)
    dest = rig.base / "restored"
    dest.mkdir()
    with open(rig.base / "restore.log", "wb") as log:
        restoring = subprocess.Popen(jaga_command("-c", str(d.config_path), "restore", "--from", "offsite",
                                                  "--to", str(dest)), stdout=log, stderr=log, cwd=d.base)
    try:
        wait_for(lambda: restore_temporaries(dest) or restoring.poll() is not None, timeout=60, interval=0.01,
                 message="a restore temporary being written")
        restoring.send_signal(signal.SIGKILL)
    finally:
        restoring.wait()
    assert restoring.returncode == -signal.SIGKILL, "the restore must still have been running"
    assert restore_temporaries(dest), "SIGKILL mid-file leaves its temporary behind"

    result = d.cli("restore", "--from", "offsite", "--to", str(dest))
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(dest) == hashed(contents)
    assert "removed 1 temporary file(s) left by an interrupted restore" in result.stdout, result.stdout
    assert_invariants(d, {"offsite": Path(root)}, restored=(dest,))

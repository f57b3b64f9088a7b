"""A folder renamed on the primary makes every file below it a new path. On a local target the
replicas it already has are linked under the new names instead of being written again, and still
nothing is called verified that was not hashed at the source and read back at the target."""

import hashlib
import os
import time

from journal.records import Job, ReplicaState, Twin
from replication.copier import replicate
from replication.local.target import LocalTarget
from replication.source import SourceFile
from replication.target import Marker
from tests.harness import sha256_file, wait_for, write_file


def _current_sha(deployment, rel: bytes) -> str | None:
    rows = deployment.journal_rows("SELECT v.sha256 FROM files f JOIN versions v ON v.file_id = f.id "
                                   "AND v.number = f.current_version WHERE f.path = ?", (rel,))
    return rows[0][0] if rows else None


def _folder_of_verified_files(deployment, folder: str, count: int) -> dict[str, bytes]:
    files = {f"{folder}/scan-{i}.pdf": os.urandom(20_000 + i) for i in range(count)}
    for rel, data in files.items():
        write_file(deployment.uploads / rel, data)
    wait_for(lambda: all(deployment.is_verified(rel.encode()) for rel in files), message="first copies verified")
    return files


def test_a_renamed_folder_is_linked_on_the_target_not_written_again(deployment):
    deployment.start()
    files = _folder_of_verified_files(deployment, "proposals", 5)
    os.rename(deployment.uploads / "proposals", deployment.uploads / "proposals-2026")
    moved = {rel.replace("proposals/", "proposals-2026/"): data for rel, data in files.items()}
    wait_for(lambda: all(deployment.is_verified(rel.encode()) for rel in moved), message="moved files verified")
    for (old, data), new in zip(files.items(), moved):
        old_replica, new_replica = deployment.replica_data / old, deployment.replica_data / new
        assert new_replica.read_bytes() == data
        assert os.stat(new_replica).st_ino == os.stat(old_replica).st_ino, f"{new} was written again, not linked"
    shas = dict(deployment.journal_rows(
        "SELECT f.path, v.sha256 FROM files f JOIN versions v ON v.file_id = f.id WHERE f.deleted_at IS NULL"))
    assert {os.fsdecode(bytes(path)): sha for path, sha in shas.items()} == \
        {rel: sha256_file(deployment.replica_data / rel) for rel in moved}
    assert all((deployment.replica_data / old).read_bytes() == data for old, data in files.items()), \
        "the replicas under the old names stay"


def test_a_moved_file_whose_old_replica_rotted_is_copied_again_not_linked(deployment):
    """The link is proven like a copy: the old replica's bytes no longer hash to what was verified, so the
    new name gets a fresh copy of the source, and the rotted one is left for scrub to find."""
    deployment.start()
    files = _folder_of_verified_files(deployment, "inbox", 2)
    rotted = deployment.replica_data / "inbox/scan-0.pdf"
    with open(rotted, "r+b") as handle:  # a bit flip on the replica disk, behind jaga's back
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 0x01]))
    os.rename(deployment.uploads / "inbox", deployment.uploads / "filed")
    wait_for(lambda: all(deployment.is_verified(rel.replace("inbox/", "filed/").encode()) for rel in files),
             message="moved files verified")
    new_replica = deployment.replica_data / "filed/scan-0.pdf"
    assert new_replica.read_bytes() == files["inbox/scan-0.pdf"]
    assert os.stat(new_replica).st_ino != os.stat(rotted).st_ino
    assert os.stat(deployment.replica_data / "filed/scan-1.pdf").st_ino == \
        os.stat(deployment.replica_data / "inbox/scan-1.pdf").st_ino


def test_a_file_moved_and_then_changed_is_copied_with_its_new_bytes(deployment):
    """Same inode, other bytes: the size or mtime differs from the verified version, so there is no twin
    to link, and the new bytes are what the target gets."""
    deployment.start()
    files = _folder_of_verified_files(deployment, "drafts", 1)
    os.rename(deployment.uploads / "drafts", deployment.uploads / "final")
    with open(deployment.uploads / "final/scan-0.pdf", "r+b") as handle:
        handle.write(b"signed")
    wanted = b"signed" + files["drafts/scan-0.pdf"][6:]
    # the move may be linked (old bytes, right for that moment) before the change is seen: wait for the
    # journal's current version to be the changed bytes, verified
    wait_for(lambda: deployment.is_verified(b"final/scan-0.pdf") and _current_sha(deployment, b"final/scan-0.pdf")
             == hashlib.sha256(wanted).hexdigest(), message="changed file verified")
    assert (deployment.replica_data / "final/scan-0.pdf").read_bytes() == wanted
    assert (deployment.replica_data / "drafts/scan-0.pdf").read_bytes() == files["drafts/scan-0.pdf"]


class _NoLinks(LocalTarget):
    can_link = False  # as SFTP and S3


def test_a_target_that_cannot_link_reads_a_moved_file_once(tmp_path, monkeypatch):
    """The twin is a hint for targets that link; elsewhere the copy must not hash the source first and
    then read it all again to send it."""
    source = tmp_path / "uploads"
    data = os.urandom(50_000)
    write_file(source / "new/a.pdf", data)
    st = os.stat(source / "new/a.pdf")
    target = _NoLinks("remote", tmp_path / "replica")
    target.write_marker(Marker("remote", "m-1", time.time()))
    reads = []
    real_chunks = SourceFile.chunks
    monkeypatch.setattr(SourceFile, "chunks", lambda self: (reads.append(self.rel), real_chunks(self))[1])
    job = Job(replica_id=1, version_id=1, target="remote", watch="uploads", path=b"new/a.pdf", number=1,
              size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=None, attempts=0, completed_at=time.time(),
              previous_number=None, twin=Twin(b"old/a.pdf", hashlib.sha256(data).hexdigest()))
    outcome = replicate(job, os.fsencode(source), target, may_hold_unknown=False)
    target.close()
    assert outcome.state == ReplicaState.VERIFIED, outcome
    assert reads == [b"new/a.pdf"], f"the source was read {len(reads)} times"
    assert (tmp_path / "replica/uploads/new/a.pdf").read_bytes() == data

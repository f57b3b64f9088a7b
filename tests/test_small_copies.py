"""Small files are copied several per worker on targets whose waits overlap (a local disk: concurrent
fsyncs share the filesystem journal's commits), and every one is still verified; over SFTP small and
large files share the workers (sshd allows 10 channels per connection)."""

from __future__ import annotations

import os
import threading
import time

from prometheus_client import CollectorRegistry

from jaga.metrics import Metrics
from journal import Journal
from journal.records import Observation
from replication.local.target import LocalTarget
from replication.retry import RetryPolicy
from replication.worker import SMALL, TargetReplicator


class _Meeting(LocalTarget):
    """A real local target whose puts wait (bounded) until four are under way at once."""

    def __init__(self, name, root):
        super().__init__(name, root)
        self.meeting = threading.Barrier(4, timeout=10.0)

    def put(self, key, chunks, mtime_ns, keep_previous_as):
        if len(key) and not key.startswith(b"uploads/big"):
            self.meeting.wait()
        return super().put(key, chunks, mtime_ns, keep_previous_as)


def test_one_worker_copies_four_small_files_at_once_on_a_local_disk(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    sizes = {f"f{i}.pdf": 1000 + i for i in range(8)} | {"big.tiff": SMALL + 1}
    observations = []
    for name, size in sizes.items():
        (uploads / name).write_bytes(os.urandom(size))
        st = os.stat(uploads / name)
        observations.append(Observation("uploads", name.encode(), size, st.st_mtime_ns, time.time(), time.time()))
    journal = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.migrate()
    try:
        journal.record_versions(observations, ["secondary"])
        target = _Meeting("secondary", tmp_path / "replica")
        replicator = TargetReplicator(target, journal, {"uploads": os.fsencode(uploads)},
                                      Metrics(CollectorRegistry()), workers=1, retry=RetryPolicy())
        try:
            replicator.drain(time.monotonic() + 60)
        finally:
            replicator.stop()
        counts = journal.target_counts("secondary")
        assert (counts.verified, counts.failed) == (len(sizes), 0), counts
        for name in sizes:
            assert (tmp_path / "replica" / "uploads" / name).read_bytes() == (uploads / name).read_bytes()
    finally:
        journal.close()


def test_small_copy_slots_per_target_type(tmp_path):
    from replication.sftp.target import SftpTarget
    from replication.s3.target import S3Target
    assert LocalTarget("l", tmp_path).small_copy_slots(4) == 16
    assert S3Target.small_copies_per_worker * 4 == 16
    assert SftpTarget.small_copies_per_worker == 0  # none beside the workers: sshd allows 10 channels
    assert LocalTarget("l", tmp_path).small_copy_slots(64) == 64  # bounded

"""A replicator records batches as a pipeline: while the journal commits one batch, the next batch's
manifest is already being written (two fsyncs that used to take turns). The order that makes the
journal trustworthy stays: no replica is recorded verified before its own manifest line is written."""

from __future__ import annotations

import os
import threading
import time

from prometheus_client import CollectorRegistry

from jaga.metrics import Metrics
from journal.facade import Journal
from journal.records import Observation, ReplicaState
from replication.local.target import LocalTarget
from replication.retry import RetryPolicy
from replication.worker import TargetReplicator
from tests.harness import wait_for

WAIT = 10.0  # bounded waits: a test that would hang fails instead


class _Steps:
    """Events the test's target, journal and replicator set as the pipeline moves."""

    def __init__(self):
        self.first_manifest_started = threading.Event()
        self.second_copy_posted = threading.Event()
        self.second_manifest_started = threading.Event()
        self.committed: list[set[bytes]] = []   # paths per journal commit, in order
        self.manifested: set[bytes] = set()     # paths with a manifest line so far
        self.recorded_before_manifest: list[bytes] = []
        self.overlapped: bool | None = None
        self.timed_out: list[str] = []  # a step that never came (a failed assert there would be retried unseen)

    def wait(self, event: threading.Event, what: str) -> None:
        if not event.wait(WAIT):
            self.timed_out.append(what)


class _Target(LocalTarget):
    """A real local target: the first manifest waits until the second copy is done; the second copy
    waits until the first manifest is under way (so the two files finish in different batches)."""

    def __init__(self, name, root, steps: _Steps):
        super().__init__(name, root)
        self.steps = steps

    def put(self, key, chunks, mtime_ns, keep_previous_as):
        if key.endswith(b"second.pdf"):
            self.steps.wait(self.steps.first_manifest_started, "the first manifest, before the second copy")
        return super().put(key, chunks, mtime_ns, keep_previous_as)

    def append_manifest(self, entries):
        keys = {entry.key for entry in entries}
        if any(k.endswith(b"first.pdf") for k in keys):
            self.steps.first_manifest_started.set()
            self.steps.wait(self.steps.second_copy_posted, "the second copy, before the first manifest is done")
        if any(k.endswith(b"second.pdf") for k in keys):
            self.steps.second_manifest_started.set()
        super().append_manifest(entries)
        self.steps.manifested |= keys


class _Journal(Journal):
    """A real journal whose first commit of outcomes waits (bounded) for the next manifest to start."""

    steps: _Steps

    def finish(self, outcomes, now=None, claim=None, holder=None, horizon=None):
        outcomes = list(outcomes)
        keys = {b"uploads/" + o.job.path for o in outcomes if o.state == ReplicaState.VERIFIED}
        self.steps.recorded_before_manifest += sorted(keys - self.steps.manifested)
        if keys and not self.steps.committed:
            self.steps.overlapped = self.steps.second_manifest_started.wait(WAIT)
        if keys:
            self.steps.committed.append(keys)
        return super().finish(outcomes, now, claim=claim, holder=holder, horizon=horizon)


class _Replicator(TargetReplicator):
    def _post(self, item):
        super()._post(item)
        if hasattr(item, "result") and not item.cancelled() and item.result().job.path == b"second.pdf":
            self.steps.second_copy_posted.set()


def _upload(uploads, name: str, data: bytes) -> Observation:
    """Write ``data`` as ``name`` in the watch and observe it as the pipeline would once it is complete."""
    path = os.path.join(uploads, name)
    with open(path, "wb") as handle:
        handle.write(data)
    st = os.stat(path)
    return Observation("uploads", name.encode(), st.st_size, st.st_mtime_ns, time.time(), time.time())


def _replicate_until(journal, target, uploads, steps: _Steps, done, what: str) -> None:
    """Run a real replicator (one worker) on ``target`` until ``done()`` holds, then stop it."""
    replicator = _Replicator(target, journal, {"uploads": os.fsencode(uploads)},
                             Metrics(CollectorRegistry()), workers=1, retry=RetryPolicy())
    replicator.steps = steps
    replicator.start()
    try:
        wait_for(done, timeout=3 * WAIT, message=what)
    finally:
        replicator.stop()


def test_the_next_batchs_manifest_is_written_while_the_journal_commits_the_one_before(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    observations = [_upload(uploads, name, os.urandom(5000)) for name in ("first.pdf", "second.pdf")]
    steps = _Steps()
    journal = _Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.steps = steps
    journal.migrate()
    try:
        journal.record_versions(observations, ["secondary"])
        target = _Target("secondary", tmp_path / "replica", steps)
        _replicate_until(journal, target, uploads, steps, lambda: journal.target_counts("secondary").verified >= 2,
                         "both files verified")
        assert steps.timed_out == []
        assert steps.overlapped is True, "the first batch's commit waited for the second manifest in vain"
        assert steps.committed == [{b"uploads/first.pdf"}, {b"uploads/second.pdf"}]
        assert steps.recorded_before_manifest == [], "a replica was recorded before its manifest line"
        assert journal.target_counts("secondary").verified == 2
        manifest = {entry.key for entry in target.read_manifest()}
        assert manifest == {b"uploads/first.pdf", b"uploads/second.pdf"}
    finally:
        journal.close()


class _ReplacingJournal(Journal):
    """A real journal: just before the first batch's commit (which also claims), second.pdf is replaced
    by a new upload, while its first version's copy is done and its manifest line being written."""

    uploads: os.PathLike
    replaced_with: bytes = b""

    def finish(self, outcomes, now=None, claim=None, holder=None, horizon=None):
        outcomes = list(outcomes)
        if not self.replaced_with and any(o.job.path == b"first.pdf" for o in outcomes):
            self.replaced_with = os.urandom(7000)
            self.record_versions([_upload(self.uploads, "second.pdf", self.replaced_with)], ["secondary"])
        return super().finish(outcomes, now, claim=claim, holder=holder, horizon=horizon)


def test_a_file_replaced_while_its_copy_waits_for_the_journal_keeps_that_copys_bytes(tmp_path):
    """The journal does not yet know the first copy is verified when it hands out the new version, so
    the replicator itself must keep the path busy until the commit, then keep the replaced bytes."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    first_bytes = {name: os.urandom(5000) for name in ("first.pdf", "second.pdf")}
    observations = [_upload(uploads, name, data) for name, data in first_bytes.items()]
    steps = _Steps()
    journal = _ReplacingJournal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.uploads = uploads
    (tmp_path / "replica").mkdir()  # an empty root is initialised; the test reads its manifest meanwhile
    journal.migrate()
    try:
        journal.record_versions(observations, ["secondary"])
        target = _Target("secondary", tmp_path / "replica", steps)
        _replicate_until(journal, target, uploads, steps,
                         lambda: (b"uploads/second.pdf", 2) in {(e.key, e.version) for e in target.read_manifest()},
                         "the new version of second.pdf in the manifest")
        assert steps.timed_out == []
        entries = {(e.key, e.version): e.sha256 for e in target.read_manifest()}
        assert (b"uploads/second.pdf", 1) in entries and (b"uploads/second.pdf", 2) in entries, entries
        assert b"".join(target.open_read(b"uploads/second.pdf")) == journal.replaced_with
        assert b"".join(target.open_version(b"uploads/second.pdf", 1)) == first_bytes["second.pdf"], \
            "the first version's bytes, listed in the manifest, were renamed over without being kept"
    finally:
        journal.close()

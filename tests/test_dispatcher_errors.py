"""A bug in a replication dispatcher's round (between collecting copies and committing them) must not
leave those files copying until a restart: their claims go back to pending and they are copied again,
and a newer version of the same path is copied too (the path is not left busy)."""

from __future__ import annotations

import logging
import os
import time

from prometheus_client import CollectorRegistry

from jaga.metrics import Metrics
from journal.facade import Journal
from journal.records import Observation
from replication.local.target import LocalTarget
from replication.retry import RetryPolicy
from replication.worker import TargetReplicator
from tests.harness import wait_for


class _FinishFailsOnce(Journal):
    """The real journal; the first commit of copy outcomes meets a bug (not a journal error)."""

    failed = False

    def finish(self, outcomes, *args, **kwargs):
        outcomes = list(outcomes)
        if outcomes and not self.failed:
            self.failed = True
            raise KeyError("a bug in the round")
        return super().finish(outcomes, *args, **kwargs)


def _upload(uploads, name: str, data: bytes) -> Observation:
    path = os.path.join(uploads, name)
    with open(path, "wb") as handle:
        handle.write(data)
    st = os.stat(path)
    return Observation("uploads", name.encode(), st.st_size, st.st_mtime_ns, time.time(), time.time())


def test_copies_whose_round_met_a_bug_are_copied_again_and_their_paths_stay_usable(tmp_path, caplog):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    journal = _FinishFailsOnce(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.migrate()
    target = LocalTarget("secondary", tmp_path / "replica")
    metrics = Metrics(CollectorRegistry())
    replicator = TargetReplicator(target, journal, {"uploads": os.fsencode(uploads)}, metrics, workers=1,
                                  retry=RetryPolicy())
    caplog.set_level(logging.ERROR, logger="jaga.replication")
    try:
        journal.record_versions([_upload(uploads, f"{name}.pdf", name.encode() * 100) for name in "abc"],
                                ["secondary"])
        replicator.start()
        wait_for(lambda: journal.failed, message="the first round to meet the bug")
        wait_for(lambda: journal.target_counts("secondary").verified == 3, timeout=30,
                 message="the three files verified after the bug")
        journal.record_versions([_upload(uploads, "a.pdf", b"a second version")], ["secondary"])
        wait_for(lambda: (target.root / "uploads" / "a.pdf").read_bytes() == b"a second version", timeout=30,
                 message="a newer version of a path from the failed round copied")
        wait_for(lambda: journal.target_counts("secondary").verified == 4, timeout=30,
                 message="the newer version verified")
    finally:
        replicator.stop()
        journal.close()
    assert any("unexpected error in the dispatcher" in r.getMessage() for r in caplog.records)
    assert metrics.internal_errors.labels(part="replication")._value.get() == 1

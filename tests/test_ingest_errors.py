"""A bug in ingest's loop must not stop ingest: the error is logged with its traceback and counted,
the batch it was recording is kept, and every upload after it is still recorded. (The replication
dispatcher already works this way; an ingest thread that died would leave /healthz green for the
stall limit and every new upload unrecorded.)"""

from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry

from ingest.pipeline import Ingest, WatchRoot
from ingest.rules import IgnoreRules
from jaga.metrics import Metrics
from journal import Journal
from tests.harness import wait_for


class _FailsOnce(Journal):
    """The real journal, whose first batch meets a bug (not a journal error)."""

    failed = False

    def record_batch(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise KeyError("a bug in recording")
        return super().record_batch(*args, **kwargs)


def current_paths(journal: Journal) -> set[bytes]:
    return set(journal.current_paths("up", b"", None, 100))


def test_an_unexpected_error_in_ingest_is_logged_and_ingest_goes_on(tmp_path, caplog):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    journal = _FailsOnce(f"sqlite:///{tmp_path}/journal.db")
    journal.migrate()
    metrics = Metrics(CollectorRegistry(), node="test")
    ingest = Ingest([WatchRoot("up", os.fsencode(uploads), IgnoreRules(()))], journal, ["secondary"], 0.2,
                    metrics, on_recorded=lambda: None)
    caplog.set_level(logging.ERROR, logger="jaga.ingest")
    ingest.start()
    try:
        (uploads / "first.pdf").write_bytes(b"first")
        wait_for(lambda: journal.failed, message="the first batch to meet the bug")
        (uploads / "second.pdf").write_bytes(b"second")
        wait_for(lambda: current_paths(journal) == {b"first.pdf", b"second.pdf"}, timeout=20,
                 message="both uploads recorded after the error")
    finally:
        ingest.stop()
        journal.close()
    assert any("a bug in recording" in r.getMessage() or (r.exc_info and "a bug in recording" in str(r.exc_info[1]))
               for r in caplog.records), "the error is logged"
    assert metrics.internal_errors.labels(part="ingest")._value.get() == 1


class _AlwaysFails(Journal):
    def record_batch(self, *args, **kwargs):
        raise KeyError("a bug that every batch meets")


def test_a_bug_that_every_batch_meets_stops_the_heartbeat(tmp_path):
    """Going on must not turn a stuck ingest into a green one: while every batch fails, the loop's
    heartbeat stands still, so /healthz fails after its stall limit and systemd's watchdog restarts."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    journal = _AlwaysFails(f"sqlite:///{tmp_path}/journal.db")
    journal.migrate()
    metrics = Metrics(CollectorRegistry(), node="test")
    errors = metrics.internal_errors.labels(part="ingest")
    ingest = Ingest([WatchRoot("up", os.fsencode(uploads), IgnoreRules(()))], journal, ["secondary"], 0.2,
                    metrics, on_recorded=lambda: None)
    ingest.start()
    try:
        (uploads / "first.pdf").write_bytes(b"first")
        wait_for(lambda: errors._value.get() >= 1, message="the first failed batch")
        beat = ingest._loop_at
        wait_for(lambda: errors._value.get() >= 3, timeout=20, message="two more failed batches")
        assert ingest._loop_at == beat, "the heartbeat went on while every batch failed"
    finally:
        ingest.stop()
        journal.close()


def test_a_watch_whose_every_event_meets_a_bug_stops_the_heartbeat(tmp_path):
    """The watch thread goes on after a bug too (it asks for a rescan), and likewise may not look
    alive while each of its rounds fails: its heartbeat is part of ingest's."""
    from ingest.watcher import FolderWatcher
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    metrics = Metrics(CollectorRegistry(), node="test")
    errors = metrics.internal_errors.labels(part="watch")
    lost = []

    def emit(_hints):
        raise KeyError("a bug that every event meets")

    watcher = FolderWatcher("up", os.fsencode(uploads), IgnoreRules(()), emit, lambda rel, why: lost.append(why),
                            metrics)
    watcher.start()
    try:
        wait_for(lambda: watcher.live, message="the watch established")
        (uploads / "first.pdf").write_bytes(b"first")
        wait_for(lambda: errors._value.get() >= 1, message="the first failed round")
        beat = watcher.last_loop_at
        for number in range(2, 4):
            (uploads / f"more-{number}.pdf").write_bytes(b"more")
            wait_for(lambda: errors._value.get() >= number, timeout=20, message=f"failed round {number}")
        assert watcher.last_loop_at == beat, "the heartbeat went on while every round failed"
        assert "events_lost" in lost, "a failed round asks for a rescan"
    finally:
        watcher.stop()

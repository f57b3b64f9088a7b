"""The journal's own disk fills up: the daemon reports it, does not corrupt the journal, keeps the uploads
it could not record, and records them once space returns."""

from __future__ import annotations

import os
import sqlite3

from tests.harness import write_file
from tests.invariants import assert_all_replicated
from tests.reliability.rig import fill, require, root_reason, wait_for


def full_journal(rig):
    """A running daemon whose journal lives on a 4 MiB tmpfs that is then filled to the last byte."""
    require(root_reason())
    disk = rig.mounts.tmpfs(rig.base / "journaldisk", "4m")
    d = rig.deployment(journal_path=disk / "journal.db")
    for folder in range(4):
        (d.uploads / f"f{folder}").mkdir(parents=True)
    d.start()
    first = []
    for i in range(20):
        rel = f"f{i % 4}/before-{i:03d}.pdf"
        write_file(d.uploads / rel, os.urandom(5000))
        first.append(rel.encode())
    wait_for(lambda: d.all_verified(first), message="files verified before the journal's disk fills")
    ballast = fill(disk)
    return d, first, ballast


def stream_until_journal_errors(d, prefix: str, new_folders: bool = False) -> list[bytes]:
    """Write uploads (long names, so rows are big) until the journal reports failed writes."""
    written: list[bytes] = []

    def more():
        for _ in range(25):
            i = len(written)
            folder = f"new-{i // 25:03d}" if new_folders else f"f{i % 4}"
            rel = f"{folder}/{prefix}-{i:04d}-{'x' * 150}.pdf"
            write_file(d.uploads / rel, os.urandom(2000))
            written.append(rel.encode())
        return d.counter("jaga_journal_errors_total") > 0

    wait_for(more, timeout=60, interval=0.2, message="journal errors once its disk is full")
    return written


def integrity(d) -> list[tuple]:
    with sqlite3.connect(d.journal_path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall()


def test_journal_disk_full_is_reported_recovered_from_and_does_not_corrupt_the_journal(rig):
    d, first, ballast = full_journal(rig)
    during = stream_until_journal_errors(d, "during")
    assert d.log_count("cannot record in the journal") >= 1, d.log_tail()
    assert d.http("/healthz")[0] == 200, "the process keeps turning while the journal is full"
    assert integrity(d) == [("ok",)], "journal readable and consistent while its disk is full"

    ballast.unlink()
    wait_for(lambda: d.all_verified(first + during), timeout=60, interval=0.3,
             message="uploads made while the journal was full recorded and verified once space returned")
    wait_for(lambda: d.pending_metric() == 0, timeout=30, message="pending metric back to 0")
    assert d.stop() == 0
    assert integrity(d) == [("ok",)]
    assert_all_replicated(d)


def test_uploads_settling_in_new_folders_while_the_journal_is_full_are_not_forgotten(rig):
    """Files first seen in a brand-new folder get no close event (their watch comes late): they become
    complete through the settle window, not through a queued hint. They must survive a failed journal
    write just the same."""
    d, first, ballast = full_journal(rig)
    during = stream_until_journal_errors(d, "settling", new_folders=True)
    ballast.unlink()
    try:
        wait_for(lambda: d.all_verified(first + during), timeout=60, interval=0.3,
                 message="settled uploads recorded and verified once space returned")
    except AssertionError as exc:
        known = {bytes(p) for (p,) in d.journal_rows("SELECT path FROM files")}
        lost = [rel for rel in during if rel not in known]
        raise AssertionError(f"{exc}: {len(lost)} of {len(during)} never journaled, e.g. {lost[:3]}") from None
    assert d.stop() == 0
    assert integrity(d) == [("ok",)]
    assert_all_replicated(d)


def test_readyz_says_not_ready_while_the_journal_cannot_take_a_write(rig):
    """/readyz answers "can jaga protect a new upload right now"; with the journal's disk full it cannot."""
    d, first, ballast = full_journal(rig)
    stream_until_journal_errors(d, "ready")
    try:
        wait_for(lambda: d.http("/readyz")[0] == 503, timeout=30,
                 message="/readyz 503 while the journal's disk is full")
        body = d.http("/readyz")[1].decode()
        assert "journal" in body, body
    finally:
        ballast.unlink()
    wait_for(lambda: d.http("/readyz")[0] == 200, timeout=20, message="/readyz 200 once space returned")
    wait_for(lambda: d.open_replicas() == 0 and d.pending_metric() == 0, timeout=60, message="drained")
    assert_all_replicated(d)

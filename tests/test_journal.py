"""The journal on SQLite and PostgreSQL: same code, same answers."""

import time

import pytest
from sqlalchemy import text

from journal import Journal
from journal.records import DOWN, FIRING, AlertRecord, Observation, Outcome, ReplicaState, SkipRecord


@pytest.fixture
def journal(journal_url):
    journal = Journal(journal_url, node="srv-a")
    journal.migrate()
    yield journal
    journal.close()


def observe(path: bytes, size=10, mtime=1, watch="uploads") -> Observation:
    now = time.time()
    return Observation(watch, path, size, mtime, now, now)


def test_migrations_apply_twice_without_harm(journal):
    journal.migrate()
    assert journal.totals() == (0, 0)


def test_a_version_is_recorded_once_per_content_and_paths_round_trip_as_bytes(journal):
    odd = b"caf\xe9/line\nbreak\xff.pdf"
    created = journal.record_versions([observe(odd), observe(odd)], ["a", "b"])
    assert len(created) == 1
    assert journal.record_versions([observe(odd)], ["a", "b"]) == []
    assert journal.known_states("uploads", [odd]) == {odd: (10, 1, None)}
    jobs = journal.claim("a", 10)
    assert [(j.path, j.number, j.size) for j in jobs] == [(odd, 1, 10)]


def test_a_change_makes_a_new_version_and_supersedes_open_replicas(journal):
    journal.record_versions([observe(b"f", size=1)], ["a"])
    journal.record_versions([observe(b"f", size=2)], ["a"])
    jobs = journal.claim("a", 10)
    assert [(j.number, j.size) for j in jobs] == [(2, 2)], "only the current bytes can still be copied"


def test_claim_finish_and_the_stored_retry_time(journal):
    journal.record_versions([observe(b"x"), observe(b"y")], ["a"])
    x, y = journal.claim("a", 10)
    assert journal.claim("a", 10) == [], "claimed jobs are not handed out twice"
    now = time.time()
    journal.finish([Outcome(x, ReplicaState.VERIFIED, sha256="ab" * 32),
                    Outcome(y, ReplicaState.FAILED, error="No space left on device", next_attempt_at=now + 1.5)],
                   now)
    counts = journal.target_counts("a")
    assert (counts.verified, counts.pending, counts.failed) == (1, 0, 1)
    assert journal.claim("a", 10, now=now + 1) == [], "a failed copy waits until the time it was given"
    assert journal.next_due("a") == pytest.approx(now + 1.5)
    (retry,) = journal.claim("a", 10, now=now + 2)
    assert retry.attempts == 1
    with journal.reading() as session:
        error = session.execute(text("SELECT last_error FROM replicas WHERE id = :id"),
                                {"id": retry.replica_id}).scalar()
    assert error == "No space left on device"


def test_copies_in_flight_at_a_crash_go_back_to_pending(journal):
    journal.record_versions([observe(b"x")], ["a"])
    journal.claim("a", 10, holder="b" * 32)
    assert journal.reset_copying("srv-a", "c" * 32) == 1
    assert len(journal.claim("a", 10)) == 1


def test_expedite_makes_waiting_retries_due_now(journal):
    journal.record_versions([observe(b"x")], ["a"])
    (job,) = journal.claim("a", 10)
    journal.finish([Outcome(job, ReplicaState.FAILED, error="EIO", next_attempt_at=time.time() + 60)])
    assert journal.claim("a", 10) == []
    assert journal.expedite("a") == 1
    assert len(journal.claim("a", 10)) == 1


def test_skips_are_upserted_with_their_reason(journal):
    now = time.time()
    journal.record_skips([SkipRecord("uploads", b"l", "symlink", "to /etc", now)])
    journal.record_skips([SkipRecord("uploads", b"l", "fifo", None, now)])
    assert journal.skip_counts() == {"fifo": 1}


def test_known_states_answers_for_a_batch_only(journal):
    journal.record_versions([observe(b"a", size=1), observe(b"b", size=2)], ["t"])
    assert journal.known_states("uploads", [b"a", b"zzz"]) == {b"a": (1, 1, None)}


def test_a_file_replaced_with_the_same_size_and_mtime_is_a_new_version(journal):
    """ext4 stamps mtimes from a coarse clock: a replace within one tick keeps size and mtime, not inode."""
    now = time.time()
    assert journal.record_versions([Observation("uploads", b"r", 10, 5, now, now, inode=100)], ["t"])
    assert journal.record_versions([Observation("uploads", b"r", 10, 5, now, now, inode=100)], ["t"]) == []
    assert journal.record_versions([Observation("uploads", b"r", 10, 5, now, now, inode=200)], ["t"])
    assert journal.known_states("uploads", [b"r"]) == {b"r": (10, 5, 200)}


def test_a_deleted_file_supersedes_its_pending_copies(journal):
    journal.record_versions([observe(b"gone")], ["t"])
    journal.mark_deleted([("uploads", b"gone")], time.time())
    assert journal.claim("t", 10) == []
    assert journal.totals() == (0, 0)


def test_deletions_are_marked_a_batch_at_a_time_and_current_paths_page_below_a_folder(journal):
    paths = [b"a/%04d" % i for i in range(1200)] + [b"a", b"a0", b"ab/x", b"b/y"]
    journal.record_versions([observe(p) for p in paths], ["t"])
    statements = []
    from sqlalchemy import event
    event.listen(journal.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    marked = journal.mark_deleted([("uploads", p) for p in paths[:1100]] + [("uploads", b"never")], time.time())
    assert marked == 1100
    assert len(statements) < 20, f"{len(statements)} statements for 1,101 deletions"
    assert journal.mark_deleted([("uploads", paths[0])], time.time()) == 0  # already deleted
    below = journal.current_paths("uploads", b"a", None, 50)
    assert below == [b"a/%04d" % i for i in range(1100, 1150)]
    assert journal.current_paths("uploads", b"a", below[-1], 500) == [b"a/%04d" % i for i in range(1150, 1200)]
    assert journal.current_paths("uploads", b"", None, 10) == [b"a", b"a/1100", b"a/1101", b"a/1102", b"a/1103",
                                                                 b"a/1104", b"a/1105", b"a/1106", b"a/1107", b"a/1108"]
    assert journal.current_paths("other", b"", None, 10) == []


def test_one_ingest_batch_commits_its_deletions_and_new_versions_in_one_transaction(journal):
    journal.record_versions([observe(b"old/a"), observe(b"old/b"), observe(b"loose")], ["t"])
    commits = []
    from sqlalchemy import event
    event.listen(journal.engine, "commit", lambda conn: commits.append(1))
    created = journal.record_batch([observe(b"new/a"), observe(b"new/b")], ["t"],
                                   deleted=[("uploads", b"loose")], folders=[("uploads", b"old")])
    assert [obs.path for obs in created] == [b"new/a", b"new/b"] and len(commits) == 1
    assert journal.current_paths("uploads", b"", None, 10) == [b"new/a", b"new/b"]
    assert sorted(j.path for j in journal.claim("t", 10)) == [b"new/a", b"new/b"]  # the old ones superseded


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    journal = Journal(f"sqlite:///{tmp_path}/j.db")
    journal.migrate()
    with journal.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    journal.close()


def test_a_target_added_later_is_backfilled_with_every_current_file(journal):
    journal.record_versions([observe(b"a", size=1), observe(b"b")], ["old"])
    journal.record_versions([observe(b"a", size=2)], ["old"])
    journal.record_versions([observe(b"gone")], ["old"])
    journal.mark_deleted([("uploads", b"gone")], time.time())
    assert journal.backfill("new") == 2
    assert journal.backfill("new") == 0
    assert sorted((j.path, j.number) for j in journal.claim("new", 10)) == [(b"a", 2), (b"b", 1)]


def test_alert_and_sample_reads_do_not_wait_for_a_writer(tmp_path):
    """The status page and `jaga status` read alerts and SMART samples: a SELECT must not queue for
    SQLite's write lock (BEGIN IMMEDIATE), which a busy ingest or a long commit may hold for seconds."""
    import sqlite3
    import threading

    path = tmp_path / "j.db"
    journal = Journal(f"sqlite:///{path}")
    journal.migrate()
    journal.open_alert(AlertRecord("disk:sda:DiskFailing", "DiskFailing", "critical", FIRING, "disk sda", "dying",
                                   1.0, None, 1.0))
    journal.save_samples("sda", 1.0, {"ata_5": "8"})
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")   # another writer holds the lock, as a long commit would
    answers = {}

    def read() -> None:
        answers["firing"] = list(journal.firing_alerts())
        answers["samples"] = {name: s.value for name, s in journal.latest_samples("sda").items()}
        answers["history"] = [a.state for a in journal.alert_history("disk:sda:DiskFailing")]

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        reader.join(timeout=5)
        blocked = reader.is_alive()
    finally:
        writer.rollback()
        writer.close()
        reader.join(timeout=60)
        journal.close()
    assert not blocked, "reading alerts and samples waited for the write lock"
    assert answers == {"firing": ["disk:sda:DiskFailing"], "samples": {"ata_5": "8"}, "history": [FIRING]}


def test_a_targets_history_is_taken_in_and_numbering_continues_from_it(journal):
    from journal.records import KnownVersion

    def known(path, number, size, sha, at):
        return KnownVersion("uploads", path, number, size, number, sha, at)

    report = journal.adopt_target("t1", "m1", [known(b"a.pdf", 1, 10, "a1", 100.0), known(b"a.pdf", 2, 11, "a2", 200.0),
                                              known(b"b.pdf", 1, 7, "b1", 150.0)])
    assert (report.files, report.versions, report.replicas, report.conflicts) == (2, 3, 3, [])
    assert journal.target_marker("t1") == "m1" and journal.has_files()
    assert sorted((bytes(p), n, sha) for _w, p, n, sha, *_ in journal.verified_replicas("t1")) == [
        (b"a.pdf", 2, "a2"), (b"b.pdf", 1, "b1")]
    journal.record_versions([observe(b"a.pdf", size=12, mtime=3)], ["t1"])
    [job] = journal.claim("t1", 10)
    assert (job.number, job.previous_number) == (3, 2), "the revision continues the target's numbering"

    # a second target agreeing on v1 and holding other bytes under v2: v1 verified there, v2 a conflict
    report = journal.adopt_target("t2", "m2", [known(b"a.pdf", 1, 10, "a1", 100.0),
                                              known(b"a.pdf", 2, 11, "zz", 210.0)])
    assert report.replicas == 1 and len(report.conflicts) == 1 and "a.pdf v2" in report.conflicts[0]

    # observed while the target was unreachable (never replicated): renumbered after the target's versions
    journal.record_versions([observe(b"c.pdf", size=5, mtime=2)], ["t1"])
    report = journal.adopt_target("t3", "m3", [known(b"c.pdf", 1, 4, "c1", 100.0), known(b"c.pdf", 2, 5, "c2", 200.0)])
    assert (report.renumbered, report.versions, report.conflicts) == (1, 1, [])
    jobs = {bytes(j.path): j for j in journal.claim("t1", 10)}
    assert (jobs[b"c.pdf"].number, jobs[b"c.pdf"].sha256) == (2, "c2"), "the journal's v1 is the target's v2"


def test_a_batch_of_mixed_outcomes_gives_each_replica_its_own_values(journal):
    """A batch is written a statement per kind of outcome: each row must still get its own error, due time,
    attempts and state, a superseded replica stays superseded unless its copy was verified."""
    journal.record_versions([observe(b"%d" % n) for n in range(7)], ["a"])
    jobs = journal.claim("a", 10)
    journal.record_versions([observe(b"4", size=11), observe(b"5", size=11)], ["a"])  # supersedes 4 and 5
    now = time.time()
    journal.finish([Outcome(jobs[0], ReplicaState.VERIFIED, sha256="a0" * 32),
                    Outcome(jobs[1], ReplicaState.VERIFIED, sha256="a1" * 32),
                    Outcome(jobs[2], ReplicaState.FAILED, error="EIO", next_attempt_at=now + 5),
                    Outcome(jobs[3], ReplicaState.FAILED, error="ENOSPC", next_attempt_at=now + 9),
                    Outcome(jobs[4], ReplicaState.VERIFIED, sha256="a4" * 32),
                    Outcome(jobs[5], ReplicaState.FAILED, error="late", next_attempt_at=now + 1),
                    Outcome(jobs[6], DOWN, error="target unmounted", next_attempt_at=now + 3)], now)
    with journal.reading() as session:
        rows = {bytes(path): (state, error, due, attempts, verified, sha) for path, state, error, due, attempts,
                verified, sha in session.execute(text(
                    "SELECT f.path, r.state, r.last_error, r.next_attempt_at, r.attempts, r.verified_at, v.sha256 "
                    "FROM replicas r JOIN versions v ON v.id = r.version_id JOIN files f ON f.id = v.file_id "
                    "WHERE v.number = 1"))}
    assert rows[b"0"] == ("verified", None, pytest.approx(now), 1, pytest.approx(now), "a0" * 32)
    assert rows[b"1"][0::5] == ("verified", "a1" * 32)
    assert rows[b"2"][:5] == ("failed", "EIO", pytest.approx(now + 5), 1, None)
    assert rows[b"3"][:5] == ("failed", "ENOSPC", pytest.approx(now + 9), 1, None)
    assert rows[b"4"][0::5] == ("verified", "a4" * 32), "its bytes are on the target: the journal says so"
    assert rows[b"6"][:5] == ("pending", "target unmounted", pytest.approx(now + 3), 0, None), "no attempt counted"
    assert rows[b"5"][0] == "superseded", "a failed copy of replaced bytes is not tried again"
    with journal.reading() as session:
        tried = session.execute(text("SELECT attempts FROM replicas r JOIN versions v ON v.id = r.version_id "
                                     "WHERE v.number = 1 AND r.state = 'superseded'")).scalar()
    assert tried == 0, "a row the batch did not change keeps its attempts"

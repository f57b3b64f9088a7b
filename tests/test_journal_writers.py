"""One writer per node, on SQLite and PostgreSQL: the lock refuses a second process and names the first;
claims carry their holder, so a start-up resets only what its own node's earlier runs left."""

from __future__ import annotations

import time

import pytest

from journal import Journal, JournalBusy
from journal.records import Incarnation, Outcome, ReplicaState
from tests.test_journal import journal, observe  # noqa: F401 (the fixture)


def me(node: str = "srv-a", command: str = "run") -> Incarnation:
    return Incarnation(node=node, command=command, version="test")


def test_a_second_writer_of_the_same_node_is_refused_with_the_holders_name(journal_url):
    first, second, other = Journal(journal_url), Journal(journal_url), Journal(journal_url)
    try:
        holder = me()
        first.lock_writer(holder)
        with pytest.raises(JournalBusy) as refused:
            second.lock_writer(me(command="sync"))
        assert f"pid {holder.pid} on {holder.host}" in str(refused.value)
        assert "jaga run" in str(refused.value)
        if not journal_url.startswith("sqlite"):
            other.lock_writer(me(node="srv-b"))   # PostgreSQL: one writer per node, not per database
        first.close()
        second.lock_writer(me(command="sync"))    # released with its holder
    finally:
        for j in (first, second, other):
            j.close()


def test_start_up_resets_only_the_claims_its_own_earlier_runs_left(journal):
    journal.record_versions([observe(b"mine-then"), observe(b"theirs"), observe(b"mine-now"),
                             observe(b"legacy")], ["t"])
    earlier, now, other = me(), me(), me(node="srv-b")
    journal.register_node(other)
    journal.register_node(now)
    claimed = [journal.claim("t", 1, holder=holder)[0].path
               for holder in (earlier.boot_id, other.boot_id, now.boot_id, None)]  # None: a claim from before 0005
    assert claimed == [b"mine-then", b"theirs", b"mine-now", b"legacy"]
    assert journal.reset_copying("srv-a", now.boot_id) == 2
    assert {job.path for job in journal.claim("t", 10, holder=now.boot_id)} == {b"mine-then", b"legacy"}
    assert journal.release_claims("t", [], holder=other.boot_id) == 1   # only its own claim
    assert {job.path for job in journal.claim("t", 10)} == {b"theirs"}


def test_only_the_holder_writes_an_outcome_or_gives_a_claim_back(journal):
    journal.record_versions([observe(b"x")], ["t"])
    (job,) = journal.claim("t", 10, holder="a" * 32)
    assert journal.release_claims("t", [], holder="b" * 32) == 0
    journal.finish([Outcome(job, ReplicaState.VERIFIED, sha256="0" * 64)], holder="b" * 32)
    assert journal.target_counts("t").verified == 0, "an outcome of someone else's claim was written"
    journal.finish([Outcome(job, ReplicaState.VERIFIED, sha256="0" * 64)], holder="a" * 32)
    assert journal.target_counts("t").verified == 1


def test_a_due_time_beyond_the_horizon_is_due_now(journal):
    """Due times are wall-clock: after a step back of an hour a 4 s backoff looks an hour away."""
    journal.record_versions([observe(b"x")], ["t"])
    (job,) = journal.claim("t", 10)
    now = time.time()
    journal.finish([Outcome(job, ReplicaState.FAILED, error="EROFS", next_attempt_at=now + 3604)])
    assert journal.claim("t", 10, now=now, horizon=3605) == []
    assert [j.path for j in journal.claim("t", 10, now=now, horizon=5)] == [b"x"]


def test_the_node_row_says_who_writes_and_a_clean_stop(journal_url):
    j = Journal(journal_url)
    try:
        running = me()
        j.lock_writer(running)
        j.migrate()
        j.register_node(running)
        assert j.node_heartbeat()
        (node,) = j.nodes()
        assert (node.name, node.boot_id, node.pid, node.stopped_at) == ("srv-a", running.boot_id, running.pid, None)
        assert j.running_tags() == {running.tag}
        j.release_writer()
        (node,) = j.nodes()
        assert node.stopped_at is not None and j.running_tags() == set()
    finally:
        j.close()

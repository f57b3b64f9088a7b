"""The retry schedule is replication's: how long a replica that was not verified waits."""

from dataclasses import replace

from journal.records import CHANGED, DOWN, Job, Outcome, ReplicaState
from replication.retry import RetryPolicy

JOB = Job(replica_id=1, version_id=1, target="t", watch="w", path=b"p", number=1, size=1, mtime_ns=1,
          sha256=None, attempts=0, completed_at=0.0, previous_number=None)


def test_the_backoff_doubles_with_jitter_up_to_five_minutes():
    delays = [RetryPolicy(initial=1.0, maximum=300.0).backoff(n) for n in range(1, 20)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert all(150 <= d <= 300 for d in delays[10:])


def test_each_outcome_is_given_its_next_attempt_time():
    policy, now = RetryPolicy(initial=4.0, maximum=300.0), 1000.0
    third_failure = Outcome(replace(JOB, attempts=2), ReplicaState.FAILED, error="EIO")
    assert now + 8.0 <= policy.schedule(third_failure, now).next_attempt_at <= now + 16.0
    assert policy.schedule(Outcome(JOB, CHANGED), now).next_attempt_at == now + 4.0, "ingest records it first"
    assert policy.schedule(Outcome(JOB, DOWN), now).next_attempt_at == now, "the target's outage is not the copy's"
    assert policy.schedule(Outcome(JOB, ReplicaState.VERIFIED), now).next_attempt_at == now

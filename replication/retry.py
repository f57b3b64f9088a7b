"""When a replica that was not verified is tried again: replication decides, the journal stores it."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from journal.records import CHANGED, Outcome, ReplicaState


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 1.0     # first retry delay (config ``retry.initial``)
    maximum: float = 300.0   # delays double up to this (config ``retry.maximum``)

    def backoff(self, attempts: int) -> float:
        """Exponential with jitter: about 1 s, 2 s, 4 s ... capped at the maximum (5 min)."""
        delay = min(self.maximum, self.initial * 2 ** min(max(attempts - 1, 0), 30))
        return delay / 2 + random.uniform(0, delay / 2)

    def next_attempt_at(self, outcome: Outcome, now: float) -> float:
        """A failed copy waits out its backoff; a changed source waits for ingest to record the new
        version; a target that went down (and a verified replica) are due again at once."""
        if outcome.state == ReplicaState.FAILED:
            return now + self.backoff(outcome.job.attempts + 1)
        if outcome.state == CHANGED:
            return now + self.initial
        return now

    def schedule(self, outcome: Outcome, now: float) -> Outcome:
        return replace(outcome, next_attempt_at=self.next_attempt_at(outcome, now))

    @property
    def horizon(self) -> float:
        """No retry is ever scheduled further ahead than this. Due times are stored as wall-clock times
        (they survive a restart); one further ahead was set before the clock stepped back and is due
        now, instead of waiting out the step (a second of slack for rounding)."""
        return max(self.initial, self.maximum) + 1.0

    def wait(self, due: float, now: float) -> float:
        """Seconds until ``due``, with the horizon's rule: beyond it means now."""
        ahead = due - now
        return 0.0 if ahead > self.horizon else max(0.0, ahead)

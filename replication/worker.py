"""One replicator per target: its own queue, pool, backoff and up/down state.

A dispatcher thread claims due replicas from the journal, a bounded pool copies them, and the
dispatcher writes the outcomes back in batches: the target's manifest first, then the journal, so a
replica the journal calls verified is always in the target's own manifest too. The two overlap across
batches: while the journal commits one batch, a thread of its own writes the next one's manifest
(each batch still has its manifest line fsynced before its own commit). The target proves its
identity (its marker is the journal's) before each batch is claimed and again before a batch is
recorded verified; a target that cannot is down, and the batch is retried when it is back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from journal import Journal, JournalError
from journal.records import CHANGED, DOWN, Incarnation, Job, Outcome, ReplicaState
from replication.copier import job_key, replicate
from replication.readiness import ensure_ready
from replication.retry import RetryPolicy
from replication.target import ManifestEntry, Target, TargetDown, TargetError

log = logging.getLogger("jaga.replication")
DOWN_RETRY = 5.0      # seconds between checks of a target that is down
IDLE_WAIT = 5.0       # longest sleep with nothing due; new work wakes the dispatcher at once
QUEUED_PER_WORKER = 8  # claimed jobs per worker: big batches keep journal transactions few
SMALL = 1 << 20        # files up to this size are copied in the small-file pool (Target.small_copy_slots)


class TargetReplicator:
    """``me``: the process it copies for. Its claims carry ``me``'s boot id and its temporaries ``me``'s
    tag, so another process's clean-up never takes them for leftovers (None: anonymous, e.g. in tests)."""

    def __init__(self, target: Target, journal: Journal, roots: dict[str, bytes], metrics, workers: int,
                 retry: RetryPolicy, on_changed=None, me: Incarnation | None = None):
        self.target = target
        self.name = target.name
        self.journal = journal
        self.holder = me.boot_id if me else None
        if me is not None:
            target.temp_tag = me.tag
        self.roots = roots
        self.metrics = metrics
        self.workers = workers
        self.retry = retry
        self._on_changed = on_changed or (lambda watch, path: None)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"copy-{self.name}")
        self._small_slots = target.small_copy_slots(workers)
        self._small_pool = ThreadPoolExecutor(max_workers=self._small_slots, thread_name_prefix=f"small-{self.name}"
                                              ) if self._small_slots else self._pool
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"flush-{self.name}")
        self._manifests = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"manifest-{self.name}")
        self._writing: Future | None = None  # the manifest of the next batch to commit, being written
        self._in_flight: dict[int, Future] = {}
        self._running_keys: set[bytes] = set()
        self._held: dict[bytes, list[Job]] = {}  # jobs waiting for an earlier copy of the same path
        self._uncommitted: dict[int, Outcome] = {}  # copies done whose path stays busy until committed
        self._closing = False
        self._unrecorded: list[Outcome] = []
        self._claims_uncertain = False
        self._adopted = True  # until proven otherwise: the target may hold files from before this journal
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.up = False
        self.down_reason: str | None = "not checked yet"
        self.consecutive_errors = 0
        self._ready_checked_at = 0.0
        self.last_loop_at = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"replicate-{self.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._inbox.put("wake")

    def stop(self, timeout: float = 8.0) -> None:
        """Finish the copies in flight (each ends in a rename or a removed temporary), then record them."""
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._small_pool is not self._pool:
            self._small_pool.shutdown(wait=True, cancel_futures=True)
        self._manifests.shutdown(wait=True)
        self._side.shutdown(wait=True)
        self.target.close()

    # -- one pass, for `jaga sync` -------------------------------------------------------------

    def drain(self, deadline: float) -> None:
        """Copy everything due now, with this thread as the dispatcher, until nothing is due or running
        or time runs out; then give back what was not started."""
        self._check_ready(force=True)
        while time.monotonic() < deadline and self.up:
            if self._wants_work():
                self._submit(self._claim())
            if not self._in_flight and not self._unrecorded and not self._held:
                break
            done = self._collect(1.0)
            if done or self._unrecorded:
                self._record(done)
        self._finish_in_flight()

    def journal_reconnected(self) -> None:
        """The journal may have lost commits (a failover): claims no copy of ours holds go back."""
        self._claims_uncertain = True

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except JournalError as exc:
                log.error("target %s: journal unavailable, retrying: %s", self.name, exc)
                self.metrics.journal_errors.inc()
                self._claims_uncertain = True
                self._stopping.wait(1.0)
            except Exception:  # no heartbeat: a bug that repeats every round turns /healthz red
                log.exception("target %s: unexpected error in the dispatcher", self.name)
                self.metrics.internal_errors.labels(part="replication").inc()
                self._recover_from_bug()
                continue
            self.last_loop_at = time.monotonic()
        self._finish_in_flight()

    def _step(self) -> None:
        if self._claims_uncertain:  # a failed commit may still have claimed rows: hand them back
            released = self.journal.release_claims(self.name, self._claimed() + list(self._uncommitted) +
                                                   [o.job.replica_id for o in self._unrecorded], self.holder)
            self._claims_uncertain = False
            if released:
                log.info("target %s: %d claim(s) from a failed journal write released", self.name, released)
        if self._writing is None and self._wants_work():  # else the coming commit claims, in one transaction
            self._submit(self._claim())
        done = self._collect_while_writing() if self._writing else self._collect(self._wait_time())
        if done or self._unrecorded or self._writing:
            self._record_overlapped(done)

    def _recover_from_bug(self) -> None:
        try:
            self._forget_uncommitted()
        except Exception:
            log.exception("target %s: could not free that round's paths (a restart will)", self.name)
        self._stopping.wait(1.0)

    def _forget_uncommitted(self) -> None:
        """After a bug in a round: outcomes the journal may not hold are dropped, their paths freed, and
        every claim no running copy holds goes back to pending (those files are copied again), instead
        of staying "copying" with their paths busy until a restart."""
        lost = list(self._uncommitted.values())
        self._uncommitted.clear()
        self._unrecorded = []
        for outcome in lost:
            self._release_key(outcome)
        self._claims_uncertain = True

    def _wants_work(self) -> bool:
        return not self._closing and not self._stopping.is_set() and self._queue_low() and self._check_ready()

    def _queue_low(self) -> bool:
        """Claim again once half the queued jobs are done: batches stay big, workers stay busy."""
        return len(self._claimed()) < self._depth() // 2

    def _room(self) -> int:
        return self._depth() - len(self._claimed())

    def _depth(self) -> int:
        """Jobs claimed at most: enough for every slot, small or large, to have some queued."""
        return max(self.workers, self._small_slots) * QUEUED_PER_WORKER

    def _claim(self) -> list[Job]:
        return self.journal.claim(self.name, self._room(), holder=self.holder, horizon=self.retry.horizon)

    def _submit(self, jobs: list[Job]) -> None:
        """One copy per path at a time: two versions of a file copied at once could rename in the wrong
        order and leave the older bytes in place. A later version waits for the earlier copy."""
        for job in jobs:
            key = job_key(job)
            if key in self._running_keys:
                self._held.setdefault(key, []).append(job)
                continue
            self._running_keys.add(key)
            pool = self._small_pool if job.size <= SMALL else self._pool  # a small copy holds <= 1 MiB
            future = pool.submit(self._copy, job)
            self._in_flight[job.replica_id] = future
            future.add_done_callback(self._post)

    def _path_free(self, recorded: Outcome) -> None:
        """A path is busy from its copy's start until the journal holds the outcome: a later version
        claimed meanwhile (the journal did not know the copy was verified yet) waits, and then keeps the
        bytes that copy put in place (see _after), instead of renaming over them unkept."""
        copied = self._uncommitted.pop(recorded.job.replica_id, None)
        if copied is not None:
            self._release_key(copied)

    def _release_key(self, done: Outcome) -> None:
        key = job_key(done.job)
        self._running_keys.discard(key)
        waiting = self._held.get(key)
        if waiting:
            next_job = waiting.pop(0)
            if not waiting:
                del self._held[key]
            self._submit([_after(next_job, done)])

    def _claimed(self) -> list[int]:
        """Replica ids this dispatcher holds claims on: running, queued, or waiting for their path."""
        return list(self._in_flight) + [job.replica_id for jobs in self._held.values() for job in jobs]

    def _wait_time(self) -> float:
        if not self.up:
            return DOWN_RETRY
        if not self._queue_low():
            return IDLE_WAIT
        due = self.journal.next_due(self.name)
        if due is None:
            return IDLE_WAIT
        return min(IDLE_WAIT, self.retry.wait(due, time.time()))

    def _post(self, item) -> None:
        """A copy finished, or a manifest is written: the dispatcher wakes for it."""
        self._inbox.put(item)

    def _collect_while_writing(self) -> list[Outcome]:
        """While the manifest of the batch to commit next is written, copies that finish join the batch
        after it."""
        outcomes = []
        while not self._writing.done():
            outcomes += self._collect(IDLE_WAIT)
        return outcomes + self._collect(0.0)

    def _collect(self, timeout: float) -> list[Outcome]:
        outcomes = []
        try:
            item = self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait()
            while True:
                if isinstance(item, Future):
                    outcome = item.result()
                    self._in_flight.pop(outcome.job.replica_id, None)
                    self._uncommitted[outcome.job.replica_id] = outcome
                    outcomes.append(outcome)
                item = self._inbox.get_nowait()
        except queue.Empty:
            pass
        return outcomes

    def _finish_in_flight(self) -> None:
        """On stop: copies not started are given back, copies under way finish and are recorded."""
        self._closing = True
        futures = list(self._in_flight.values())
        for future in futures:
            future.cancel()
        outcomes = [future.result() for future in futures if not future.cancelled()]
        self._in_flight.clear()
        self._held.clear()  # their claims are released below
        self._running_keys.clear()
        self._uncommitted.clear()
        try:
            if outcomes or self._unrecorded or self._writing:
                self._record(outcomes)
            self.journal.release_claims(self.name, [], self.holder)
        except JournalError as exc:
            log.error("target %s: could not record the last copies (they will be redone): %s", self.name, exc)

    def _copy(self, job: Job) -> Outcome:
        root = self.roots.get(job.watch)
        if root is None:
            return Outcome(job, ReplicaState.FAILED, error=f"watch {job.watch!r} is no longer configured")
        try:
            return replicate(job, root, self.target, self._adopted)
        except TargetDown as exc:
            return Outcome(job, DOWN, error=str(exc))
        except Exception as exc:  # a bug must not kill the pool; the journal keeps the error
            log.exception("target %s: copying %s failed unexpectedly", self.name, job.display_path)
            return Outcome(job, ReplicaState.FAILED, error=f"internal error: {exc!r}")

    # -- recording ----------------------------------------------------------------------------

    def _record(self, outcomes: list[Outcome]) -> None:
        """Everything collected so far, manifest and journal, before this returns (`jaga sync`, stop)."""
        self._record_overlapped(outcomes)
        if self._writing is not None:
            self._record_overlapped([])

    def _record_overlapped(self, outcomes: list[Outcome]) -> None:
        """Start writing the manifest of ``outcomes``, then commit the batch whose manifest was being
        written: one batch's manifest fsync overlaps the previous one's journal commit."""
        previous = self._take_written()
        if outcomes:
            self._writing = self._manifests.submit(self._write_manifest, outcomes)
            self._writing.add_done_callback(lambda _written: self._post("written"))
        if previous or self._unrecorded:
            self._commit(previous)

    def _take_written(self) -> list[Outcome]:
        if self._writing is None:
            return []
        try:
            return self._writing.result()
        finally:
            self._writing = None

    def _commit(self, written: list[Outcome]) -> None:
        """The journal takes a batch whose manifest is written. Outcomes it refused are kept and written
        with the next batch, so no replica is left marked copying until a restart."""
        outcomes = self._unrecorded + written
        self._unrecorded = []
        now = time.time()
        outcomes = [self.retry.schedule(outcome, now) for outcome in outcomes]
        for outcome in outcomes:
            if outcome.state == DOWN:
                self._mark_down(outcome.error)
        recovered = self.consecutive_errors > 0 and any(o.state == ReplicaState.VERIFIED for o in outcomes)
        claim = (self.name, self._room()) if self._wants_work() else None
        try:  # one commit for both
            self._submit(self.journal.finish(outcomes, now, claim=claim, holder=self.holder,
                                             horizon=self.retry.horizon))
        except JournalError:
            self._unrecorded = outcomes
            raise
        for outcome in outcomes:
            self._account(outcome, now)
            self._path_free(outcome)
        if recovered:
            expedited = self.journal.expedite(self.name, now)
            if expedited:
                log.info("target %s works again: %d waiting replica(s) retried now", self.name, expedited)

    def _write_manifest(self, outcomes: list[Outcome]) -> list[Outcome]:
        """The target proves it is still the one the journal met, then its manifest takes the batch. A
        target that cannot prove it records nothing: the batch is down, retried once it is back."""
        verified = [o for o in outcomes if o.state == ReplicaState.VERIFIED]
        if not verified:
            return outcomes
        entries = [ManifestEntry(key=job_key(o.job), version=o.job.number, size=o.job.size, sha256=o.sha256,
                                 mtime_ns=o.job.mtime_ns, replicated_at=o.stored_at or time.time())
                   for o in verified]
        try:
            self.target.prove_identity()
            flushed = self._side.submit(self.target.flush)  # the two fsyncs overlap; both must succeed
            self.target.append_manifest(entries)
            flushed.result()
            return outcomes
        except TargetDown as exc:
            state, error = DOWN, f"not recorded: {exc}"
        except TargetError as exc:
            state, error = ReplicaState.FAILED, f"writing the target's manifest: {exc}"
        except Exception as exc:  # in the manifest thread: a bug must not lose the batch; it is retried
            log.exception("target %s: writing the manifest failed unexpectedly", self.name)
            state, error = ReplicaState.FAILED, f"internal error writing the manifest: {exc!r}"
        return [Outcome(o.job, state, error=error) if o.state == ReplicaState.VERIFIED else o for o in outcomes]

    def _account(self, outcome: Outcome, now: float) -> None:
        job = outcome.job
        if outcome.state == ReplicaState.VERIFIED:
            self.consecutive_errors = 0
            self.metrics.replicas_verified.labels(target=self.name).inc()
            self.metrics.bytes_replicated.labels(target=self.name).inc(job.size)
            self.metrics.latency.labels(target=self.name).observe(max(0.0, now - job.completed_at))
            log.debug("target %s: verified %s v%d", self.name, job.display_path, job.number)
        elif outcome.state == DOWN:   # the file's name goes to the log; the down reason never holds it
            log.info("target %s: copy of %s interrupted: %s", self.name, job.display_path, outcome.error)
        elif outcome.state == CHANGED:
            log.info("target %s: %s %s; observing it again", self.name, job.display_path, outcome.error)
            self._on_changed(job.watch, job.path)
        else:
            self.consecutive_errors += 1
            self.metrics.replication_errors.labels(target=self.name).inc()
            log.warning("target %s: copy of %s failed (attempt %d): %s", self.name, job.display_path,
                        job.attempts + 1, outcome.error)

    # -- up / down ----------------------------------------------------------------------------

    def _check_ready(self, force: bool = False) -> bool:
        """Before a batch is claimed: the full check (journal, marker) at most once a second while up,
        every DOWN_RETRY while down; in between the target proves its identity again."""
        now = time.monotonic()
        interval = 1.0 if self.up else DOWN_RETRY
        if not force and now - self._ready_checked_at < interval:
            return self.up and self._prove_identity()
        self._ready_checked_at = now
        try:
            marker = ensure_ready(self.target, self.journal, self.roots)
            if not self.up:  # at start, and after an outage: what interrupted copies left behind goes
                self._adopted = _adopted(marker, self.journal.target_met_at(self.name))
                removed = self.target.remove_temporaries(keep=self._live_tags())
                if removed:
                    log.info("target %s: removed %d temporary file(s) left by an interrupted run",
                             self.name, removed)
        except (TargetDown, TargetError) as exc:
            self._mark_down(str(exc))
            return False
        if not self.up:
            log.info("target %s is up", self.name)
        self.up, self.down_reason = True, None
        self.metrics.target_up.labels(target=self.name).set(1)
        return True

    def _prove_identity(self) -> bool:
        try:
            self.target.prove_identity()
        except (TargetDown, TargetError) as exc:
            self._mark_down(str(exc))
            return False
        return True

    def _live_tags(self) -> set[str]:
        """Runs whose temporaries must stay: every boot still registered as running, except this one
        when none of its copies is under way (then its own are leftovers of copies the outage broke)."""
        tags = self.journal.running_tags()
        if not self._in_flight:
            tags.discard(self.target.temp_tag)
        return tags

    def _mark_down(self, reason: str | None) -> None:
        if self.up or self.down_reason != reason:
            log.error("target %s is down: %s", self.name, reason)
        self.up, self.down_reason = False, reason
        self._ready_checked_at = time.monotonic()
        self.metrics.target_up.labels(target=self.name).set(0)


def _after(job: Job, done: Outcome) -> Job:
    """A job that waited for an earlier copy of its path: if that copy put its bytes in place (verified,
    even if superseded meanwhile), they are what this one replaces, and they must be kept."""
    if done.state != ReplicaState.VERIFIED or done.job.number >= job.number:
        return job
    if job.previous_number is not None and job.previous_number >= done.job.number:
        return job
    return replace(job, previous_number=done.job.number)


def _adopted(marker, met_at: float | None) -> bool:
    """The target existed before this journal met it (its marker is older): it may hold replicas this
    journal does not know, e.g. after a restore onto a new disk."""
    return met_at is None or marker.created_at < met_at - 1.0

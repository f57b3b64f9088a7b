"""One job, start to verified: source → target.put → read back → compare. Knows no backend."""

from __future__ import annotations

import time

from journal.records import CHANGED, Job, Outcome, ReplicaState
from replication.source import SourceChanged, SourceFile
from replication.target import Target, TargetError, version_key

def job_key(job: Job) -> bytes:
    """Replicas mirror the source: ``<watch>/<relative path>`` under the target root."""
    return job.watch.encode() + b"/" + job.path


def replicate(job: Job, source_root: bytes, target: Target, may_hold_unknown: bool = True) -> Outcome:
    """Copy one version and prove the replica byte-identical. TargetDown propagates to the caller.

    ``may_hold_unknown``: the target may hold files this journal did not put there (it was adopted,
    e.g. after a restore), so a new file is first looked for there by hash instead of re-uploaded."""
    key = job_key(job)
    try:
        with SourceFile(source_root, job.path, job.size, job.mtime_ns, job.sha256) as source:
            look_first = job.previous_number is None and (may_hold_unknown or job.attempts > 0)
            if look_first and _already_there(source, target, key):
                return Outcome(job, ReplicaState.VERIFIED, sha256=source.sha256, stored_at=time.time())
            if job.twin is not None and target.can_link and _linked_from_twin(job, source, target, key):
                return Outcome(job, ReplicaState.VERIFIED, sha256=source.sha256, stored_at=time.time())
            keep = version_key(key, job.previous_number) if job.previous_number else None
            identical = target.put(key, source.chunks(), job.mtime_ns, keep)
            stored = source.sha256 if identical else target.checksum(key)
            if stored != source.sha256:
                return Outcome(job, ReplicaState.FAILED, error=f"read-back hash {stored} does not match the "
                                                               f"source's {source.sha256}")
            return Outcome(job, ReplicaState.VERIFIED, sha256=source.sha256, stored_at=time.time())
    except SourceChanged as exc:
        return Outcome(job, CHANGED, error=f"source {exc}")
    except TargetError as exc:
        return Outcome(job, ReplicaState.FAILED, error=str(exc))
    except OSError as exc:
        return Outcome(job, ReplicaState.FAILED, error=f"reading the source: {exc.strerror or exc}")


def _linked_from_twin(job: Job, source: SourceFile, target: Target, key: bytes) -> bool:
    """A file that moved: the target links the replica it already holds under the old path instead of
    being sent the bytes again. Verified as a copy is: the source hashed now, the replica read back,
    both equal to the twin's hash. Anything else (the old replica gone, other bytes on either side)
    and the caller copies as usual, over whatever the link left."""
    twin_key = job.watch.encode() + b"/" + job.twin.path
    try:
        if source.read_hash() != job.twin.sha256 or not target.link(twin_key, key):
            return False
        return target.checksum(key) == job.twin.sha256
    except TargetError:
        return False  # the copy tries the usual way, and reports what fails there


def _already_there(source: SourceFile, target: Target, key: bytes) -> bool:
    """A target that already holds these exact bytes (after a restore, or a journal rebuilt) needs no
    upload: compare hashes instead of copying again."""
    stored = target.checksum(key)
    if stored is None:
        return False
    return source.read_hash() == stored

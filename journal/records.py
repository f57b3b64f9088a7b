"""Plain records passed between the journal and its callers (no ORM objects leak out)."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field


def default_node() -> str:
    """The node name of a server whose config names none: its hostname, made into a valid name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()).strip(".-_")[:63] or "jaga"


class ReplicaState:
    """Where a replica stands (the ``replicas.state`` column)."""

    PENDING = "pending"
    COPYING = "copying"
    VERIFIED = "verified"
    FAILED = "failed"          # tried and failed; retried at next_attempt_at, forever
    SUPERSEDED = "superseded"  # a newer version replaced the source before this one was copied

    OPEN = (PENDING, COPYING, FAILED)


@dataclass(frozen=True)
class Incarnation:
    """One run of one jaga process that writes the journal: which node, which boot, where.

    The boot id is new at every start. Claims carry it (``replicas.claimed_by``) and temporaries carry
    its first 8 characters in their names, so a start-up can tell what its own earlier runs left from
    what a live process is still working on.
    """

    node: str
    command: str
    version: str
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: float = field(default_factory=time.time)

    @property
    def tag(self) -> str:
        """What temporaries carry: short, so a temporary name stays short."""
        return self.boot_id[:8]

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        return f"jaga {self.command} (pid {self.pid} on {self.host}, since {since})"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node as the journal last heard of it (``nodes`` table)."""

    name: str
    boot_id: str
    host: str
    pid: int
    command: str
    version: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Observation:
    """A complete file seen on the primary: what ingest asks the journal to record."""

    watch: str
    path: bytes          # relative to the watch root, as raw bytes
    size: int
    mtime_ns: int
    seen_at: float
    completed_at: float
    inode: int | None = None  # size and mtime can match across a replace (coarse clock); the inode not


@dataclass(frozen=True, slots=True)
class KnownVersion:
    """A version a target's manifest says it holds, verified: what the journal takes in when it adopts
    the target (after the journal was lost, or when it meets a target that already holds replicas)."""

    watch: str
    path: bytes
    number: int
    size: int
    mtime_ns: int
    sha256: str
    replicated_at: float


@dataclass
class AdoptReport:
    """What adopting a target's history added to the journal, and what it could not reconcile."""

    target: str
    files: int = 0          # files the journal did not know
    versions: int = 0       # versions added (to new or known files)
    replicas: int = 0       # verified replicas recorded on the target
    renumbered: int = 0     # known files whose unpublished versions now follow the target's numbering
    skipped: int = 0        # manifest lines not taken in (unsafe keys, watches not configured)
    conflicts: list[str] = field(default_factory=list)  # same number, other bytes: both kept, not merged


@dataclass(frozen=True, slots=True)
class SkipRecord:
    watch: str
    path: bytes
    reason: str
    detail: str | None
    seen_at: float


@dataclass(frozen=True, slots=True)
class Job:
    """One replica to make: which version of which file, onto which target."""

    replica_id: int
    version_id: int
    target: str
    watch: str
    path: bytes
    number: int
    size: int
    mtime_ns: int
    sha256: str | None
    attempts: int
    completed_at: float
    previous_number: int | None   # newest verified older version on this target, kept aside on overwrite
    twin: "Twin | None" = None    # a first version whose bytes this target may already hold elsewhere

    @property
    def display_path(self) -> str:
        return display(self.path)


@dataclass(frozen=True, slots=True)
class Twin:
    """A verified replica on the same target that is probably these very bytes: the same inode, size and
    mtime under another path of the watch (a file or folder moved). A hint only: the copy hashes the
    source and reads the replica back before it calls anything verified."""

    path: bytes
    sha256: str


CHANGED = "changed"  # the source is not the recorded version any more: observe it again, retry
DOWN = "down"        # the target went away mid-copy: no attempt counted, retried once it is back


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker did with a job. ``state`` is ReplicaState.VERIFIED or FAILED, CHANGED or DOWN.

    ``next_attempt_at``: when an unverified replica is due again, as replication's retry policy
    decided (None: at once). The journal stores it; it does not choose it.
    """

    job: Job
    state: str
    sha256: str | None = None
    error: str | None = None
    stored_at: float | None = None
    next_attempt_at: float | None = None


@dataclass(frozen=True, slots=True)
class TargetCounts:
    verified: int
    pending: int
    failed: int
    oldest_pending_at: float | None


@dataclass(frozen=True, slots=True)
class ScrubRecord:
    """One scheduled re-read of a target: when, how much, what it found."""

    target: str
    started_at: float
    finished_at: float
    checked: int
    bytes_read: int
    missing: int
    corrupt: int
    unexpected: int
    error: str | None = None

    @property
    def damaged(self) -> bool:
        return bool(self.missing or self.corrupt)


FIRING, RESOLVED = "firing", "resolved"


@dataclass(frozen=True)
class AlertRecord:
    """One alert's life: firing (maybe re-notified), then resolved."""

    key: str
    alertname: str
    severity: str
    state: str          # FIRING | RESOLVED
    subject: str
    summary: str
    started_at: float
    resolved_at: float | None
    last_notified_at: float | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """A SMART counter's value at one poll (text: real drives report counters beyond 2**64)."""

    value: str
    polled_at: float


def display(path: bytes) -> str:
    """A path for logs and JSON: undecodable bytes shown as \\xNN, never an exception."""
    return path.decode("utf-8", "backslashreplace")

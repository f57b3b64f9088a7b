"""The one small interface every replica target implements (cf. Litestream's ReplicaClient).

Keys are relative paths as bytes (``<watch>/<path inside the watch>``). A target never writes
outside its root, and refuses to write at all unless its marker proves it is the right target.
"""

from __future__ import annotations

import base64
import json
import posixpath
import secrets
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

MARKER_NAME = ".jaga-target"
META_DIR = b".jaga"            # manifest and previous versions live here, beside the data
TEMP_PREFIX = b".jaga-tmp-"    # temporary names: short, so 255-byte names still fit beside them


class TargetFailure(Exception):
    """What went wrong, kept apart from which file it happened to.

    The message names the operation and the error, never an upload's path: it becomes a target's
    down reason, which the status page and /readyz show to whoever asks, and upload file names often
    hold a citizen's ID number and name. The key goes in ``path``; logs and the journal add it
    (``describe``)."""

    def __init__(self, message: str, path: bytes | None = None):
        super().__init__(message)
        self.path = path

    def describe(self) -> str:
        """The message with the file it concerns, for the log and the journal only."""
        return f"{self} [{display_key(self.path)}]" if self.path else str(self)


class TargetDown(TargetFailure):
    """The target cannot be used now: unreachable, unmounted, wrong marker. Nothing was written."""


class TargetError(TargetFailure):
    """One operation failed (no space, I/O error, permission); the target may still be up."""


def display_key(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


class UnsafeKey(ValueError):
    """A key that would escape the target root or touch jaga's own metadata."""


@dataclass(frozen=True, slots=True)
class Marker:
    """Proof that a root is the target the journal met: written once, checked before every batch."""

    target: str
    marker_id: str
    created_at: float

    def to_bytes(self) -> bytes:
        return json.dumps({"target": self.target, "marker_id": self.marker_id, "created_at": self.created_at,
                           "format": 1}).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> "Marker":
        try:
            doc = json.loads(data)
            return cls(target=str(doc["target"]), marker_id=str(doc["marker_id"]),
                       created_at=float(doc["created_at"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetDown(f"the marker file {MARKER_NAME} is unreadable: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One verified version, as the target itself remembers it: enough to restore without the journal."""

    key: bytes
    version: int
    size: int
    sha256: str
    mtime_ns: int
    replicated_at: float

    def to_json(self) -> str:
        return json.dumps({"key": base64.urlsafe_b64encode(self.key).decode(),
                           "path": self.key.decode("utf-8", "backslashreplace"),
                           "version": self.version, "size": self.size, "sha256": self.sha256,
                           "mtime_ns": self.mtime_ns, "replicated_at": self.replicated_at},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> "ManifestEntry":
        doc = json.loads(line)
        return cls(key=base64.urlsafe_b64decode(doc["key"]), version=int(doc["version"]),
                   size=int(doc["size"]), sha256=str(doc["sha256"]), mtime_ns=int(doc["mtime_ns"]),
                   replicated_at=float(doc["replicated_at"]))


def check_key(key: bytes) -> bytes:
    """Return ``key`` normalised, or raise UnsafeKey if it could land outside the data area."""
    if not key or b"\0" in key or key.startswith(b"/"):
        raise UnsafeKey(f"unsafe key {key!r}")
    parts = key.split(b"/")
    if any(part in (b"", b".", b"..") for part in parts):
        raise UnsafeKey(f"key {key!r} has an empty, '.' or '..' component")
    if parts[0] in (META_DIR, MARKER_NAME.encode()) or any(p.startswith(TEMP_PREFIX) for p in parts):
        raise UnsafeKey(f"key {key!r} collides with jaga's own files")
    return posixpath.normpath(key)


def check_version_key(kept: bytes) -> bytes:
    """A ``keep_previous_as`` value must name a place inside the versions area and nowhere else."""
    prefix = META_DIR + b"/versions/"
    if not kept.startswith(prefix):
        raise UnsafeKey(f"previous versions are kept under {prefix!r}, not {kept!r}")
    check_key(kept[len(prefix):])
    return kept


def temp_name(tag: str) -> bytes:
    """``.jaga-tmp-<tag>-<random>``: the tag names the run that writes it (Target.temp_tag)."""
    return TEMP_PREFIX + tag.encode() + b"-" + secrets.token_hex(8).encode()


def is_leftover(name: bytes, keep: Collection[str]) -> bool:
    """A temporary whose run is not among ``keep``: a crashed or stopped run left it. Names without a
    tag come from jaga before tags, or from a tool that planted one: leftovers too."""
    if not name.startswith(TEMP_PREFIX):
        return False
    tag, sep, _ = name[len(TEMP_PREFIX):].partition(b"-")
    return not sep or tag.decode("ascii", "replace") not in keep


def version_key(key: bytes, version: int) -> bytes:
    """Where an older version of ``key`` is kept once a newer one takes its place."""
    return META_DIR + b"/versions/" + key + b"/" + str(version).encode()


def conflict_key(kept: bytes, stamp: int) -> bytes:
    """Where bytes go that were about to be replaced while their version's name in the versions area
    already holds other bytes (an earlier history of the file, e.g. before the journal was rebuilt):
    beside it, never over it."""
    return kept + b"." + str(stamp).encode() + b".kept"


def require_marker(found: Marker | None, expected: str | None) -> Marker:
    """``found`` if it is the marker the journal met; TargetDown otherwise (nothing may be written)."""
    if expected is None:
        raise TargetDown("the target's identity was never proven (no marker id to compare): nothing is written")
    if found is None:
        raise TargetDown(f"marker {MARKER_NAME} is missing at the target root: is the disk mounted? "
                         "(nothing is written until it is back; `jaga init-target` re-initialises)")
    if found.marker_id != expected:
        raise TargetDown(f"marker {MARKER_NAME} belongs to a different target (id {found.marker_id}, "
                         f"journal expects {expected}): another disk at the mount point? nothing is written")
    return found


class Target(ABC):
    """A place replicas live. Implementations: replication.local, replication.sftp, replication.s3."""

    name: str
    shared: bool = False
    """Several nodes write to it (each under its own area); its marker is decided by the journal."""
    expected_marker: str | None = None
    _temp_tag: str | None = None
    small_copies_per_worker: int = 0  # see small_copy_slots

    def small_copy_slots(self, workers: int) -> int:
        """How many small files (up to replication.worker.SMALL) this target takes at once, beside the
        ``workers`` copies of larger ones; 0: none beside them, small files share the ``workers``. A
        small copy holds at most its own bytes in memory and spends most of its time waiting (an fsync,
        a round trip), so targets whose waits overlap well (local disks share the filesystem journal's
        commits; S3 answers every connection) take several per worker. SFTP takes none beside: sshd
        allows 10 channels per connection, and each copy holds one."""
        return min(64, max(1, workers) * self.small_copies_per_worker)

    @property
    def temp_tag(self) -> str:
        """Which run writes through this object, in every temporary's name: the daemon sets its boot's
        tag, so its clean-up can tell its earlier runs' leftovers from a live process's copies."""
        if self._temp_tag is None:
            self._temp_tag = secrets.token_hex(4)
        return self._temp_tag

    @temp_tag.setter
    def temp_tag(self, tag: str) -> None:
        self._temp_tag = tag

    @classmethod
    def from_config(cls, config, node: str | None = None) -> "Target":
        """The target its ``targets[]`` section describes (see replication.factory); ``node`` is passed
        for a shared one only (``shared: true``, a backend that can be shared): whose area it works in."""
        return cls(config)

    @abstractmethod
    def read_marker(self) -> Marker | None:
        """The marker at the root, None when there is none; TargetDown when unreachable."""

    @abstractmethod
    def write_marker(self, marker: Marker) -> None:
        """Initialise the target (create the root if needed and write the marker); the target then expects
        this marker."""

    def expect_marker(self, marker_id: str) -> None:
        """The marker id the journal met for this target: from now on a write is made only where the root
        proves to hold it (see prove_identity)."""
        self.expected_marker = marker_id

    def prove_identity(self) -> Marker:
        """Read the marker from the storage now and raise TargetDown unless it is the expected one.

        Called before a batch's writes and again before the batch is recorded verified, so no replica
        is called verified on a target whose identity was not proven for that write. LocalTarget does
        more: it writes only through the root folder handle whose marker it proved.
        """
        return require_marker(self.read_marker(), self.expected_marker)

    def require_proven(self) -> None:
        """Refuse to write before the journal's marker id is known (expect_marker or write_marker)."""
        if self.expected_marker is None:
            raise TargetDown(f"target {self.name}: its identity was never proven (no marker id to compare): "
                             "nothing is written")

    @abstractmethod
    def put(self, key: bytes, chunks: Iterable[bytes], mtime_ns: int, keep_previous_as: bytes | None
            ) -> bool | None:
        """Store ``chunks`` under ``key`` atomically; durable once ``flush()`` returns. An existing object
        at ``key`` is first kept under ``keep_previous_as`` (see version_key) when given; if that name
        already holds other bytes, the replaced ones are kept beside it (conflict_key) and a warning is
        logged: nothing in the versions area is overwritten. If ``chunks`` raises, nothing appears under
        ``key``. Raises TargetDown unless the marker was proven (expect_marker, or write_marker). Returns
        True only when the stored bytes were proven identical to ``chunks`` by the storage itself: read
        back from the disk (local, SFTP), or the store's reply naming the SHA-256 it computed over the
        bytes it kept (S3), which is what checksum() would ask it for; then no checksum() is needed."""

    @abstractmethod
    def checksum(self, key: bytes) -> str | None:
        """SHA-256 (hex) of the bytes stored under ``key``, read back from the storage, not from memory;
        None when there is nothing there."""

    @abstractmethod
    def open_read(self, key: bytes) -> Iterator[bytes]:
        """The stored bytes of ``key`` in chunks (restore). Raises FileNotFoundError when absent."""

    can_link: bool = False  # link() can give a key another key's bytes without sending them again

    def link(self, existing: bytes, key: bytes) -> bool:
        """Make ``key`` hold what ``existing`` holds without sending the bytes again (a file that moved on
        the primary), atomically, durable once ``flush()`` returns; False when ``existing`` is not there
        (the caller then puts the bytes). Only called where ``can_link``. The caller proves the result
        with ``checksum(key)`` before it calls anything verified."""
        return False

    def flush(self) -> None:
        """Make every put so far durable (e.g. fsync the folders renamed into). Called before replicas
        are recorded as verified; a no-op where each put is durable by itself."""

    def open_version(self, key: bytes, version: int) -> Iterator[bytes]:
        """An older version kept aside by ``put(keep_previous_as=version_key(key, version))``."""
        raise TargetError(f"{type(self).__name__} cannot read older versions yet")

    @abstractmethod
    def list_keys(self) -> Iterator[bytes]:
        """Every data key (not metadata, not temporaries)."""

    @abstractmethod
    def append_manifest(self, entries: list[ManifestEntry]) -> None:
        """Durably add entries to the target's own manifest before the journal calls them verified."""

    @abstractmethod
    def read_manifest(self) -> Iterator[ManifestEntry]:
        """Every manifest entry, oldest first; unreadable lines are skipped and logged."""

    @abstractmethod
    def remove_temporaries(self, keep: Collection[str] = ()) -> int:
        """Delete temporaries whose run tag is not in ``keep`` (left by a crash; see is_leftover);
        returns how many. A live run's temporaries must be in ``keep``."""

    def close(self) -> None:
        """Release connections."""

"""The one small interface every replica target implements (cf. Litestream's ReplicaClient).

Keys are relative paths as bytes (``<watch>/<path inside the watch>``). A target never writes
outside its root, and refuses to write at all unless its marker proves it is the right target.
"""

from __future__ import annotations

import base64
import json
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
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


def version_key(key: bytes, version: int) -> bytes:
    """Where an older version of ``key`` is kept once a newer one takes its place."""
    return META_DIR + b"/versions/" + key + b"/" + str(version).encode()


class Target(ABC):
    """A place replicas live. Implementations: replication.local, replication.sftp, replication.s3."""

    name: str

    @classmethod
    def from_config(cls, config) -> "Target":
        """The target its ``targets[]`` section describes (see replication.factory)."""
        return cls(config)

    @abstractmethod
    def read_marker(self) -> Marker | None:
        """The marker at the root, None when there is none; TargetDown when unreachable."""

    @abstractmethod
    def write_marker(self, marker: Marker) -> None:
        """Initialise the target (create the root if needed and write the marker)."""

    @abstractmethod
    def put(self, key: bytes, chunks: Iterable[bytes], mtime_ns: int, keep_previous_as: bytes | None
            ) -> bool | None:
        """Store ``chunks`` under ``key`` atomically; durable once ``flush()`` returns. An existing object
        at ``key`` is first kept under ``keep_previous_as`` (see version_key) when given. If ``chunks``
        raises, nothing appears under ``key``. Returns True only when the target itself read the stored
        bytes back from the storage and found them identical to ``chunks`` (then no checksum() is needed)."""

    @abstractmethod
    def checksum(self, key: bytes) -> str | None:
        """SHA-256 (hex) of the bytes stored under ``key``, read back from the storage, not from memory;
        None when there is nothing there."""

    @abstractmethod
    def open_read(self, key: bytes) -> Iterator[bytes]:
        """The stored bytes of ``key`` in chunks (restore). Raises FileNotFoundError when absent."""

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
    def remove_temporaries(self) -> int:
        """Delete temporary files left by a crash; returns how many. Call before any put."""

    def close(self) -> None:
        """Release connections."""

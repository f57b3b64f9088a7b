"""`jaga restore`: rebuild the upload tree from one target alone, every file hash-checked and atomic.

Works without the journal (the primary disk holds it, and it may be what died): the target's own
manifest says what it holds. Resumable: a file already restored (same size and mtime, which only a
verified rename sets) is not fetched again. Returns a `RestoreReport`; `jaga.commands.restore`
prints it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass, field

from journal.records import display
from replication.progress import Reporter
from replication.target import ManifestEntry, Target, TargetDown, TargetError, UnsafeKey, check_key

log = logging.getLogger("jaga.restore")
TEMP_PREFIX = b".jaga-restore-"


@dataclass
class RestoreReport:
    restored: int = 0
    already_there: int = 0
    bytes: int = 0
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def select_versions(entries, at: float | None = None, prefix: bytes | None = None) -> list[ManifestEntry]:
    """The newest version of every key (or the newest replicated by ``at``), under ``prefix`` if given."""
    chosen: dict[bytes, ManifestEntry] = {}
    for entry in entries:
        if at is not None and entry.replicated_at > at:
            continue
        if prefix and not _under(entry.key.partition(b"/")[2], prefix):
            continue
        current = chosen.get(entry.key)
        if current is None or entry.version > current.version:
            chosen[entry.key] = entry
    return sorted(chosen.values(), key=lambda e: e.key)


def _under(path: bytes, prefix: bytes) -> bool:
    prefix = prefix.strip(b"/")
    return path == prefix or path.startswith(prefix + b"/")


def restore(target: Target, dest: bytes, entries: list[ManifestEntry], reporter: Reporter | None = None
            ) -> RestoreReport:
    report = RestoreReport()
    watches = {e.key.partition(b"/")[0] for e in entries}
    newest = _newest_versions(target)
    for entry in entries:
        try:
            relative = _destination(entry.key, strip_watch=len(watches) == 1)
        except UnsafeKey as exc:
            report.refused.append(f"{display(entry.key)}: {exc}")
            log.error("refused manifest entry %s: %s", display(entry.key), exc)
            continue
        try:
            fetched = _restore_one(target, dest, relative, entry, newest.get(entry.key) == entry.version)
        except (TargetError, TargetDown, OSError, ValueError) as exc:
            report.failed.append(f"{display(entry.key)}: {exc}")
            log.error("could not restore %s: %s", display(entry.key), exc)
            continue
        if fetched:
            report.restored += 1
            report.bytes += entry.size
        else:
            report.already_there += 1
        if reporter is not None:
            reporter.advance(entry.size)
    return report


def _newest_versions(target: Target) -> dict[bytes, int]:
    """Which version sits at each key itself (older ones are in the versions area)."""
    newest: dict[bytes, int] = {}
    for entry in target.read_manifest():
        newest[entry.key] = max(entry.version, newest.get(entry.key, 0))
    return newest


def _destination(key: bytes, strip_watch: bool) -> bytes:
    key = check_key(key)
    return key.partition(b"/")[2] if strip_watch else key


def _restore_one(target: Target, dest: bytes, relative: bytes, entry: ManifestEntry, at_key: bool) -> bool:
    final = os.path.join(dest, relative)
    folder, root = os.path.realpath(os.path.dirname(final)), os.path.realpath(dest)
    if folder != root and not folder.startswith(root + b"/"):
        raise UnsafeKey("would land outside the restore folder")
    if _already_restored(final, entry):
        return False
    os.makedirs(os.path.dirname(final), exist_ok=True)
    chunks = target.open_read(entry.key) if at_key else target.open_version(entry.key, entry.version)
    temp = os.path.join(os.path.dirname(final), TEMP_PREFIX + secrets.token_hex(6).encode())
    try:
        _write_checked(temp, chunks, entry)
        os.rename(temp, final)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    _fsync_dir(os.path.dirname(final))
    return True


def _write_checked(temp: bytes, chunks, entry: ManifestEntry) -> None:
    digest = hashlib.sha256()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    try:
        for chunk in chunks:
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        if digest.hexdigest() != entry.sha256:
            raise ValueError(f"hash {digest.hexdigest()} does not match the manifest's {entry.sha256}")
        os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        os.fsync(fd)
    finally:
        os.close(fd)


def _already_restored(final: bytes, entry: ManifestEntry) -> bool:
    try:
        st = os.lstat(final)
    except FileNotFoundError:
        return False
    return st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns


def _fsync_dir(path: bytes) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""`jaga restore`: rebuild the upload tree from one target alone, every file hash-checked and atomic.

Works without the journal (the primary disk holds it, and it may be what died): the target's own
manifest says what it holds. Resumable: a file already in place with the manifest's SHA-256 is not
fetched again; any other file in the way is moved aside (to ``.jaga-aside/<time>/``), never
overwritten; temporaries a killed restore left behind are removed first. Returns a `RestoreReport`;
`jaga.commands.restore` prints it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice

from journal.records import display
from replication.progress import Reporter
from replication.target import ManifestEntry, Target, TargetDown, TargetError, UnsafeKey, check_key

log = logging.getLogger("jaga.restore")
TEMP_PREFIX = b".jaga-restore-"
TEMP_NAME = re.compile(rb"^\.jaga-restore-[0-9a-f]{12}$")  # exactly what _restore_one creates
ASIDE = b".jaga-aside"
CHUNK = 1 << 20
WORKERS = 4  # scaled by the target's small_copy_slots: 16 from a local disk or S3, 4 over SFTP (its channels)


@dataclass
class RestoreReport:
    restored: int = 0
    already_there: int = 0
    bytes: int = 0
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    moved_aside: list[tuple[str, str]] = field(default_factory=list)  # (path, where it went), in the folder
    leftovers_removed: int = 0


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


def restore(target: Target, dest: bytes, entries: list[ManifestEntry], reporter: Reporter | None = None,
            workers: int | None = None) -> RestoreReport:
    """Restore ``entries`` into ``dest``, ``workers`` files at a time (by default as many as the target
    takes small copies at once: the files' fsyncs overlap and share the filesystem journal's commits);
    every folder a file was renamed into (and every folder on the way to it) is fsynced before this
    returns."""
    workers = workers or target.small_copy_slots(WORKERS) or WORKERS
    report = RestoreReport(leftovers_removed=remove_leftovers(dest))
    accepted = []
    for entry in entries:
        try:
            check_key(entry.key)
            accepted.append(entry)
        except UnsafeKey as exc:
            report.refused.append(f"{display(entry.key)}: {exc}")
            log.error("refused manifest entry %s: %s", display(entry.key), exc)
    strip_watch = len({e.key.partition(b"/")[0] for e in accepted}) == 1  # only accepted keys decide
    newest = _newest_versions(target)
    aside = os.path.join(dest, ASIDE, time.strftime("%Y%m%dT%H%M%S").encode() + b"-" + secrets.token_hex(2).encode())
    folders = _Folders(dest)

    def one(entry: ManifestEntry) -> tuple[bool, bytes | None]:
        relative = _destination(entry.key, strip_watch)
        return _restore_one(target, folders, relative, entry, newest.get(entry.key) == entry.version, aside)

    renamed_into: set[bytes] = set()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="restore") as pool:
        for entry, future in _as_done(pool, one, accepted, window=8 * max(1, workers)):
            try:
                fetched, moved = future.result()
            except (TargetError, TargetDown, OSError, ValueError) as exc:
                report.failed.append(f"{display(entry.key)}: {exc}")
                log.error("could not restore %s: %s", display(entry.key), exc)
                continue
            relative = _destination(entry.key, strip_watch)
            if moved is not None:
                report.moved_aside.append((display(relative), display(os.path.relpath(moved, dest))))
                log.warning("%s held other bytes; moved aside to %s", display(relative), display(moved))
                renamed_into.update(_chain(dest, os.path.dirname(moved)))
            if fetched:
                report.restored += 1
                report.bytes += entry.size
                renamed_into.update(_chain(dest, os.path.dirname(os.path.join(dest, relative))))
            else:
                report.already_there += 1
            if reporter is not None:
                reporter.advance(entry.size)
        report.failed.sort()  # the report reads in manifest order, whatever order the files finished in
        report.moved_aside.sort()
        _sync_folders(pool, renamed_into, report)
    return report


def _as_done(pool: ThreadPoolExecutor, work: Callable, items: Iterable, window: int
             ) -> Iterator[tuple[object, Future]]:
    """(item, its future) as each finishes, with at most ``window`` submitted and not yet handed out:
    memory stays bounded, and one big file does not leave the other workers idle behind it."""
    items = iter(items)
    pending = {pool.submit(work, item): item for item in islice(items, window)}
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield pending.pop(future), future
        pending.update((pool.submit(work, item), item) for item in islice(items, len(done)))


class _Folders:
    """The restore folder's subfolders, each checked and made once per restore rather than once per
    file (``realpath`` is an ``lstat`` per path component): a folder must resolve inside the restore
    folder, so a symlink in the tree can never send a restored file elsewhere. Workers share it: two that
    prepare the same folder at once both check it, which is harmless."""

    def __init__(self, dest: bytes):
        self.dest = dest
        self._root = os.path.realpath(dest)
        self._ready: set[bytes] = set()

    def prepare(self, folder: bytes) -> None:
        if folder in self._ready:
            return
        real = os.path.realpath(folder)
        if real != self._root and not real.startswith(self._root + b"/"):
            raise UnsafeKey("would land outside the restore folder")
        os.makedirs(folder, exist_ok=True)
        self._ready.add(folder)


def _chain(dest: bytes, folder: bytes) -> list[bytes]:
    """``folder`` and every folder above it up to ``dest``: new folders' names must survive a power cut."""
    chain = [folder]
    while folder != dest and folder.startswith(dest + b"/"):
        folder = os.path.dirname(folder)
        chain.append(folder)
    return chain


def _sync_folders(pool: ThreadPoolExecutor, folders: set[bytes], report: RestoreReport) -> None:
    """One fsync per folder for the whole restore (at once: they share journal commits), instead of one
    per file. A folder that cannot be synced fails the restore: its files may not survive a power cut."""
    for folder, future in [(folder, pool.submit(_fsync_dir, folder)) for folder in sorted(folders)]:
        try:
            future.result()
        except OSError as exc:
            report.failed.append(f"{display(folder)}: could not sync the folder: {exc}")
            log.error("could not sync folder %s: %s", display(folder), exc)


def remove_leftovers(dest: bytes) -> int:
    """Delete the temporaries an interrupted restore (killed, power cut) left in ``dest``: only regular
    files named exactly as restore names them, never following symlinks."""
    removed = 0
    for folder, _dirs, files in os.walk(dest):
        for name in files:
            path = os.path.join(folder, name)
            if TEMP_NAME.match(name) and stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed += 1
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted restore", removed)
    return removed


def _newest_versions(target: Target) -> dict[bytes, int]:
    """Which version sits at each key itself (older ones are in the versions area)."""
    newest: dict[bytes, int] = {}
    for entry in target.read_manifest():
        newest[entry.key] = max(entry.version, newest.get(entry.key, 0))
    return newest


def _destination(key: bytes, strip_watch: bool) -> bytes:
    key = check_key(key)
    return key.partition(b"/")[2] if strip_watch else key


def _restore_one(target: Target, folders: _Folders, relative: bytes, entry: ManifestEntry, at_key: bool,
                 aside: bytes) -> tuple[bool, bytes | None]:
    """(fetched, where a file in the way was moved). A file already holding the entry's bytes stays."""
    final = os.path.join(folders.dest, relative)
    folders.prepare(os.path.dirname(final))
    if _holds(final, entry):
        return False, None
    temp = os.path.join(os.path.dirname(final), TEMP_PREFIX + secrets.token_hex(6).encode())
    try:
        _fetch(target, temp, entry, at_key)
        moved = _move_aside(final, os.path.join(aside, relative)) if os.path.lexists(final) else None
        os.rename(temp, final)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        raise
    return True, moved  # restore() fsyncs the folder once, with the others


def _fetch(target: Target, temp: bytes, entry: ManifestEntry, at_key: bool) -> None:
    """The newest version is read at its key; if a newer copy was renamed there before its manifest
    entry was made, the entry's bytes are in the versions area (kept by that copy)."""
    try:
        chunks = target.open_read(entry.key) if at_key else target.open_version(entry.key, entry.version)
        _write_checked(temp, chunks, entry)
    except ValueError as mismatch:
        if not at_key:
            raise
        os.unlink(temp)
        try:
            _write_checked(temp, target.open_version(entry.key, entry.version), entry)
        except (FileNotFoundError, ValueError):
            raise mismatch from None


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


def _holds(final: bytes, entry: ManifestEntry) -> bool:
    """A regular file with the entry's size and SHA-256 (size and mtime alone are no proof)."""
    try:
        st = os.lstat(final)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
        return False
    digest = hashlib.sha256()
    with open(final, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == entry.sha256


def _move_aside(final: bytes, aside: bytes) -> bytes:
    """A file (or folder) restore did not write stands where a file must go: keep it, whole."""
    os.makedirs(os.path.dirname(aside), exist_ok=True)
    os.rename(final, aside)
    return aside  # its folder is fsynced by restore(), with the others


def _fsync_dir(path: bytes) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

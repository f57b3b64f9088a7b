"""LocalTarget: write to a temporary name beside the final one, fsync, rename, fsync the folder.

Every folder below the root is opened with O_NOFOLLOW, one component at a time, so a symlink planted
in the replica tree cannot send a write outside the root.

Every write goes through one root folder handle whose marker was read through that very handle and
found to be the journal's. Before each write (and before a batch is called verified) the root path
must still lead to that folder (same st_dev and st_ino): a root renamed away, or another disk mounted
or moved onto it, makes the target down, the handle is let go (a lazily unmounted disk can be
released) and nothing reaches the other disk.
"""

from __future__ import annotations

import errno
import hashlib
import os
import logging
import stat
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common.beneath import open_beneath
from replication.local.config import LocalTargetConfig
from replication.local.readback import ReadBackMismatch, write_verified
from replication.target import (MARKER_NAME, META_DIR, TEMP_PREFIX, ManifestEntry, Marker, Target,
                                TargetDown, TargetError, check_key, check_version_key, conflict_key,
                                is_leftover, require_marker, temp_name, version_key)

log = logging.getLogger("jaga.target.local")
CHUNK = 1 << 20
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MANIFEST = META_DIR + b"/manifest.jsonl"
MARKER = MARKER_NAME.encode()


@dataclass(frozen=True, slots=True)
class _ProvenRoot:
    """An open handle on the root folder whose marker was read through it, and that folder's identity."""

    fd: int
    dev: int
    ino: int


class LocalTarget(Target):
    small_copies_per_worker = 4  # concurrent fsyncs share the filesystem journal's commits
    can_link = True              # hard links: replicas are write-once

    @classmethod
    def from_config(cls, config: LocalTargetConfig) -> "LocalTarget":
        return cls(config.name, config.path)

    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = Path(root)
        self._unsynced_folders: set[bytes] = set()
        self._folders_lock = threading.Lock()  # the set above, never held across a system call
        self._lock = threading.Lock()  # the proven root: held while it is proven or let go
        self._flush_pool: ThreadPoolExecutor | None = None
        self._proven: _ProvenRoot | None = None

    # -- marker and identity ------------------------------------------------------------------

    def read_marker(self) -> Marker | None:
        try:
            data = (self.root / MARKER_NAME).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TargetDown(f"cannot read {self.root / MARKER_NAME}: {exc.strerror}") from exc
        return Marker.from_bytes(data)

    def write_marker(self, marker: Marker) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._root_fd() as root_fd:
                self._write_atomic(root_fd, MARKER, [marker.to_bytes()], None)
        except OSError as exc:
            raise TargetError(f"cannot initialise {self.root}: {exc.strerror}") from exc
        self.expect_marker(marker.marker_id)

    def expect_marker(self, marker_id: str) -> None:
        with self._lock:
            if marker_id != self.expected_marker:
                self._let_go()
            self.expected_marker = marker_id

    def prove_identity(self) -> Marker:
        """The marker read again through the held root handle (proving a new one if there is none)."""
        with self._lock:
            fd = self._held_root()
            try:
                return self._marker_through(fd)
            except TargetDown:
                self._let_go()
                raise

    def _held_root(self) -> int:
        """The proven root handle, after checking that the root path still leads to it. Call with the
        lock held (another thread may be letting it go)."""
        if self.expected_marker is None:
            raise TargetDown(f"target {self.name}: its identity was never proven (no marker id to compare): "
                             "nothing is written")
        proven = self._proven
        if proven is None:
            return self._prove()
        try:
            now = os.stat(self.root)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (proven.dev, proven.ino):
            self._let_go()
            raise TargetDown(f"the target root {self.root} no longer leads to the folder whose marker was "
                             "proven (renamed, or another disk mounted there): nothing is written until it "
                             "is back")
        try:
            os.stat(MARKER, dir_fd=proven.fd, follow_symlinks=False)
        except OSError:
            self._let_go()
            require_marker(None, self.expected_marker)  # raises: the marker is gone
        return proven.fd

    def _prove(self) -> int:
        """Open the root, read the marker through that handle, and keep the handle if it is ours."""
        try:
            fd = os.open(self.root, DIR_FLAGS & ~os.O_NOFOLLOW)
        except OSError as exc:
            raise TargetDown(f"target root {self.root} cannot be opened: {exc.strerror}") from exc
        try:
            self._marker_through(fd)
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        self._proven = _ProvenRoot(fd, st.st_dev, st.st_ino)
        return fd

    def _marker_through(self, root_fd: int) -> Marker:
        try:
            fd = os.open(MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root_fd)
        except FileNotFoundError:
            found = None
        except OSError as exc:
            raise TargetDown(f"cannot read {self.root / MARKER_NAME}: {exc.strerror}") from exc
        else:
            try:
                found = Marker.from_bytes(_read_all(fd))
            except OSError as exc:
                raise TargetDown(f"cannot read {self.root / MARKER_NAME}: {exc.strerror}") from exc
            finally:
                os.close(fd)
        return require_marker(found, self.expected_marker)

    def _let_go(self) -> None:
        """Close the proven handle (lock held): a disk that went away must not be kept busy by jaga."""
        if self._proven is not None:
            os.close(self._proven.fd)
            self._proven = None

    # -- data ---------------------------------------------------------------------------------

    def put(self, key: bytes, chunks: Iterable[bytes], mtime_ns: int, keep_previous_as: bytes | None) -> bool:
        key = check_key(key)
        folder, name = _split(key)
        try:
            with self._dir_fd(folder, create=True, sync_later=True) as dir_fd:
                if stat.S_ISDIR(_lstat_mode(name, dir_fd)):
                    self._displace(dir_fd, name, key)
                temp = self._write_temp(dir_fd, chunks, mtime_ns)
                keep = (lambda: self._keep_previous(dir_fd, name, keep_previous_as, temp, key)
                        ) if keep_previous_as is not None else None
                _rename_into_place(dir_fd, temp, name, before=keep)
            self._sync_later(_with_ancestors(folder))
        except OSError as exc:
            raise TargetError(f"writing a replica: {_describe(exc)}", path=key) from exc
        except ReadBackMismatch as exc:
            raise TargetError(f"writing a replica: {exc}", path=key) from exc
        return True  # read back from the disk and found identical (see readback.py)

    def link(self, existing: bytes, key: bytes) -> bool:
        """A hard link of the replica at ``existing`` (replicas are write-once: every put renames a new
        inode into place, so the two names keep the same bytes), made under a temporary name and renamed
        over ``key``; its folders go to the next flush like a put's."""
        existing, key = check_key(existing), check_key(key)
        (from_folder, from_name), (folder, name) = _split(existing), _split(key)
        try:
            with self._dir_fd(from_folder, create=False) as from_fd, \
                    self._dir_fd(folder, create=True, sync_later=True) as dir_fd:
                if not stat.S_ISREG(_lstat_mode(from_name, from_fd)):
                    return False
                if stat.S_ISDIR(_lstat_mode(name, dir_fd)):
                    self._displace(dir_fd, name, key)
                temp = temp_name(self.temp_tag)
                os.link(from_name, temp, src_dir_fd=from_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
                _rename_into_place(dir_fd, temp, name)
            self._sync_later(_with_ancestors(folder))
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise TargetError(f"linking a replica: {_describe(exc)}", path=key) from exc
        return True

    def flush(self) -> None:
        """fsync every folder a put renamed into since the last flush: one fsync per folder per batch
        instead of one per file, and still before anything is called verified."""
        with self._folders_lock:
            folders, self._unsynced_folders = self._unsynced_folders, set()
        if len(folders) > 1:  # concurrent fsyncs share the filesystem's journal commits
            list(self._flusher().map(self._sync_folder, sorted(folders)))
        elif folders:
            self._sync_folder(folders.pop())

    def _sync_later(self, folders: list[bytes]) -> None:
        with self._folders_lock:
            self._unsynced_folders.update(folders)

    def _sync_folder(self, folder: bytes) -> None:
        try:
            with self._dir_fd(folder, create=False) as dir_fd:
                os.fsync(dir_fd)
        except OSError as exc:
            raise TargetError(f"syncing folders: {_describe(exc)}") from exc

    def _flusher(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._flush_pool is None:
                self._flush_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix=f"fsync-{self.name}")
            return self._flush_pool

    def close(self) -> None:
        if self._flush_pool is not None:
            self._flush_pool.shutdown(wait=True)
            self._flush_pool = None
        with self._lock:
            self._let_go()

    def _write_temp(self, dir_fd: int, chunks: Iterable[bytes], mtime_ns: int | None) -> bytes:
        """A new temporary file in the folder, written, fsynced and read back; its name."""
        temp = temp_name(self.temp_tag)
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640,
                     dir_fd=dir_fd)
        try:
            try:
                write_verified(fd, chunks, mtime_ns)
            finally:
                os.close(fd)
        except BaseException:
            _unlink_quietly(temp, dir_fd)
            raise
        return temp

    def _write_atomic(self, dir_fd: int, name: bytes, chunks: Iterable[bytes], mtime_ns: int | None) -> None:
        _rename_into_place(dir_fd, self._write_temp(dir_fd, chunks, mtime_ns), name)
        os.fsync(dir_fd)

    def _displace(self, dir_fd: int, name: bytes, key: bytes) -> None:
        """A replica of something deleted on the primary stands where a new upload must go (a folder
        replaced by a file of the same name, or the reverse): move it aside, whole, never delete it."""
        aside = META_DIR + b"/displaced/" + str(time.time_ns()).encode() + b"/" + key
        folder, aside_name = _split(aside)
        with self._dir_fd(folder, create=True) as aside_fd:
            os.rename(name, aside_name, src_dir_fd=dir_fd, dst_dir_fd=aside_fd)
            os.fsync(aside_fd)
        os.fsync(dir_fd)
        log.warning("target %s: moved %s aside to %s to make room for a new upload of the same name",
                    self.name, _show(key), _show(aside))

    def _keep_previous(self, dir_fd: int, name: bytes, keep_as: bytes, temp: bytes, key: bytes) -> None:
        """Hard-link the current replica into the versions area before ``temp`` replaces it. A name there
        that already holds other bytes is never replaced: the current bytes are kept beside it."""
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        keep_as = check_version_key(keep_as)
        folder, kept_name = _split(keep_as)
        with self._dir_fd(folder, create=True) as keep_fd:
            try:
                os.link(name, kept_name, src_dir_fd=dir_fd, dst_dir_fd=keep_fd, follow_symlinks=False)
            except FileExistsError:
                if not (_same_file(dir_fd, name, keep_fd, kept_name) or _same_file(dir_fd, name, dir_fd, temp)):
                    aside = conflict_key(keep_as, time.time_ns())
                    os.link(name, _split(aside)[1], src_dir_fd=dir_fd, dst_dir_fd=keep_fd, follow_symlinks=False)
                    log.warning("target %s: %s already holds other bytes (an earlier history of %s, e.g. from "
                                "before the journal was rebuilt); the bytes being replaced are kept as %s",
                                self.name, _show(keep_as), _show(key), _show(aside))
            os.fsync(keep_fd)

    def checksum(self, key: bytes) -> str | None:
        digest = hashlib.sha256()
        try:
            for chunk in self._read(check_key(key), drop_cache=True):
                digest.update(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None  # no file there (a folder of the same name is moved aside by put)
        except OSError as exc:
            raise TargetError(f"reading back a replica: {_describe(exc)}", path=key) from exc
        return digest.hexdigest()

    def open_read(self, key: bytes) -> Iterator[bytes]:
        return self._read(check_key(key), drop_cache=False)

    def open_version(self, key: bytes, version: int) -> Iterator[bytes]:
        return self._read(version_key(check_key(key), version), drop_cache=False)

    def _read(self, key: bytes, drop_cache: bool) -> Iterator[bytes]:
        folder, name = _split(key)
        with self._dir_fd(folder, create=False) as dir_fd:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            if drop_cache and hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # read what the disk holds
            while chunk := os.read(fd, CHUNK):
                yield chunk
        finally:
            os.close(fd)

    def list_keys(self) -> Iterator[bytes]:
        with self._dir_fd(b"", create=False) as root_fd:
            for rel, dirs, files, _fd in _walk(root_fd):
                if not rel:
                    dirs[:] = [d for d in dirs if d != META_DIR]
                for name in files:
                    if name.startswith(TEMP_PREFIX) or (not rel and name == MARKER):
                        continue
                    yield os.path.join(rel, name) if rel else name

    # -- manifest and housekeeping ------------------------------------------------------------

    def append_manifest(self, entries: list[ManifestEntry]) -> None:
        if not entries:
            return
        data = "".join(entry.to_json() + "\n" for entry in entries).encode()
        try:
            with self._dir_fd(META_DIR, create=True) as meta_fd:
                fd = os.open(b"manifest.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o640, dir_fd=meta_fd)
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise TargetError(f"appending to the manifest: {_describe(exc)}") from exc

    def read_manifest(self) -> Iterator[ManifestEntry]:
        try:
            chunks = list(self._read(MANIFEST, drop_cache=False))
        except FileNotFoundError:
            return
        for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
            if line.strip():
                try:
                    yield ManifestEntry.from_json(line)
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line after a crash; the journal still has the truth

    def remove_temporaries(self, keep: Collection[str] = ()) -> int:
        removed = 0
        with self._dir_fd(b"", create=True) as root_fd:
            for _rel, _dirs, files, folder_fd in _walk(root_fd):
                for name in files:
                    if is_leftover(name, keep):
                        _unlink_quietly(name, folder_fd)
                        removed += 1
        return removed

    # -- helpers ------------------------------------------------------------------------------

    @contextmanager
    def _root_fd(self):
        try:
            fd = os.open(self.root, DIR_FLAGS & ~os.O_NOFOLLOW)
        except FileNotFoundError as exc:
            raise TargetDown(f"target root {self.root} does not exist") from exc
        try:
            yield fd
        finally:
            os.close(fd)

    def _start_fd(self, create: bool) -> int:
        """A new fd on the root, checked to be the proven folder first (it is the only way to write);
        an unproven target (restore, verify without a journal) is only read, through the path."""
        if self.expected_marker is not None or create:
            return self._checked_root()
        with self._root_fd() as root_fd:
            return os.dup(root_fd)

    def _checked_root(self) -> int:
        """The root opened again and found to be the proven folder (same st_dev and st_ino) with its
        marker still in it. Without the lock: sixteen puts at once must not queue behind each other's
        system calls. Anything unexpected takes the locked path, which lets go and says why."""
        proven = self._proven
        if proven is not None:
            try:
                fd = os.open(self.root, DIR_FLAGS & ~os.O_NOFOLLOW)
            except OSError:
                fd = None
            if fd is not None:
                if _is_proven(fd, proven) and self._proven is proven:
                    return fd
                os.close(fd)
        with self._lock:
            return os.dup(self._held_root())

    @contextmanager
    def _dir_fd(self, folder: bytes, create: bool, sync_later: bool = False):
        """An fd for ``folder`` under the root, walking one component at a time without following links.
        ``sync_later``: a folder made on the way is not fsynced into its parent here; the caller queues
        every folder on the way for the next flush (put's case: nothing is called verified before)."""
        fd = self._start_fd(create)
        try:
            if folder and (child := open_beneath(fd, folder, DIR_FLAGS)) is not None:
                os.close(fd)  # there already, every folder on the way a real one: no walk
                fd = child
                folder = b""
            walked = []
            for part in folder.split(b"/") if folder else []:
                walked.append(part)
                try:
                    child = _enter(fd, part, create, sync=not sync_later)
                except NotADirectoryError:
                    if not create or stat.S_ISDIR(_lstat_mode(part, fd)):
                        raise
                    self._displace(fd, part, b"/".join(walked))
                    child = _enter(fd, part, create, sync=not sync_later)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)


def _is_proven(fd: int, proven: _ProvenRoot) -> bool:
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (proven.dev, proven.ino):
        return False
    try:
        os.stat(MARKER, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return False
    return True


def _enter(parent_fd: int, part: bytes, create: bool, sync: bool = True) -> int:
    """The child folder's fd. A folder made here has its name fsynced into the parent (it must survive
    a power cut): at once with ``sync``, else by the caller's flush."""
    try:
        return os.open(part, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(part, 0o750, dir_fd=parent_fd)
    except FileExistsError:
        pass
    if sync:
        os.fsync(parent_fd)
    return os.open(part, DIR_FLAGS, dir_fd=parent_fd)


def _rename_into_place(dir_fd: int, temp: bytes, name: bytes, before=None) -> None:
    """``temp`` renamed over ``name`` (after ``before()``, if given); on any failure the temporary goes,
    so nothing half-done is left under either name."""
    try:
        if before is not None:
            before()
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink_quietly(temp, dir_fd)
        raise


def _with_ancestors(folder: bytes) -> list[bytes]:
    """The folder and every folder above it up to the root (b""). A put queues all of them: one may
    have been made a moment ago by another put that has not queued it yet. A folder that did not change
    costs its flush a walk and an fsync call, no journal commit."""
    parts = folder.split(b"/") if folder else []
    return [b""] + [b"/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]


def _walk(root_fd: int) -> Iterator[tuple[bytes, list[bytes], list[bytes], int]]:
    """(folder relative to the root, its folders, its other entries, its fd): through the handle, never
    through the path (which may lead elsewhere by now), symlinked folders not followed."""
    for folder, dirs, files, folder_fd in os.fwalk(b".", dir_fd=root_fd):
        yield (b"" if folder == b"." else folder[2:]), dirs, files, folder_fd


def _same_file(dir_a: int, name_a: bytes, dir_b: int, name_b: bytes) -> bool:
    """The same inode, or the same bytes (read back from both)."""
    a = os.stat(name_a, dir_fd=dir_a, follow_symlinks=False)
    b = os.stat(name_b, dir_fd=dir_b, follow_symlinks=False)
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        return True
    if not (stat.S_ISREG(a.st_mode) and stat.S_ISREG(b.st_mode)) or a.st_size != b.st_size:
        return False
    fa = os.open(name_a, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_a)
    try:
        fb = os.open(name_b, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_b)
        try:
            while True:
                chunk = os.read(fa, CHUNK)
                if chunk != _read_exactly(fb, len(chunk)):
                    return False
                if not chunk:
                    return True
        finally:
            os.close(fb)
    finally:
        os.close(fa)


def _read_exactly(fd: int, length: int) -> bytes:
    parts = []
    while length > 0:
        part = os.read(fd, length)
        if not part:
            break
        parts.append(part)
        length -= len(part)
    return b"".join(parts)


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def _lstat_mode(name: bytes, dir_fd: int) -> int:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return 0


def _split(key: bytes) -> tuple[bytes, bytes]:
    folder, _, name = key.rpartition(b"/")
    return folder, name


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink_quietly(name, dir_fd) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink in the replica tree (refused: never written through)"
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{exc.strerror or exc} ({name})" if name else str(exc)


def _show(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")

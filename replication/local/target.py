"""LocalTarget: write to a temporary name beside the final one, fsync, rename, fsync the folder.

Every folder below the root is opened with O_NOFOLLOW, one component at a time, so a symlink planted
in the replica tree cannot send a write outside the root.
"""

from __future__ import annotations

import errno
import hashlib
import os
import logging
import secrets
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from replication.local.config import LocalTargetConfig
from replication.local.readback import ReadBackMismatch, write_verified
from replication.target import (MARKER_NAME, META_DIR, TEMP_PREFIX, ManifestEntry, Marker, Target,
                                TargetDown, TargetError, check_key, check_version_key,
                                version_key)

log = logging.getLogger("jaga.target.local")
CHUNK = 1 << 20
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MANIFEST = META_DIR + b"/manifest.jsonl"


class LocalTarget(Target):
    @classmethod
    def from_config(cls, config: LocalTargetConfig) -> "LocalTarget":
        return cls(config.name, config.path)

    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = Path(root)
        self._unsynced_folders: set[bytes] = set()
        self._lock = threading.Lock()
        self._flush_pool: ThreadPoolExecutor | None = None

    # -- marker -------------------------------------------------------------------------------

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
                self._write_atomic(root_fd, MARKER_NAME.encode(), [marker.to_bytes()], None)
        except OSError as exc:
            raise TargetError(f"cannot initialise {self.root}: {exc.strerror}") from exc

    # -- data ---------------------------------------------------------------------------------

    def put(self, key: bytes, chunks: Iterable[bytes], mtime_ns: int, keep_previous_as: bytes | None) -> bool:
        key = check_key(key)
        folder, name = _split(key)
        try:
            with self._dir_fd(folder, create=True) as dir_fd:
                if keep_previous_as is not None:
                    self._keep_previous(dir_fd, name, keep_previous_as)
                if stat.S_ISDIR(_lstat_mode(name, dir_fd)):
                    self._displace(dir_fd, name, key)
                self._write_atomic(dir_fd, name, chunks, mtime_ns, sync_folder=False)
            with self._lock:
                self._unsynced_folders.add(folder)
        except OSError as exc:
            raise TargetError(f"writing a replica: {_describe(exc)}", path=key) from exc
        except ReadBackMismatch as exc:
            raise TargetError(f"writing a replica: {exc}", path=key) from exc
        return True  # read back from the disk and found identical (see readback.py)

    def flush(self) -> None:
        """fsync every folder a put renamed into since the last flush: one fsync per folder per batch
        instead of one per file, and still before anything is called verified."""
        with self._lock:
            folders, self._unsynced_folders = self._unsynced_folders, set()
        if len(folders) > 1:  # concurrent fsyncs share the filesystem's journal commits
            list(self._flusher().map(self._sync_folder, sorted(folders)))
        elif folders:
            self._sync_folder(folders.pop())

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

    def _write_atomic(self, dir_fd: int, name: bytes, chunks: Iterable[bytes], mtime_ns: int | None,
                      sync_folder: bool = True) -> None:
        temp = TEMP_PREFIX + secrets.token_hex(8).encode()
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640,
                     dir_fd=dir_fd)
        try:
            try:
                write_verified(fd, chunks, mtime_ns)
            finally:
                os.close(fd)
            os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            _unlink_quietly(temp, dir_fd)
            raise
        if sync_folder:
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

    def _keep_previous(self, dir_fd: int, name: bytes, keep_as: bytes) -> None:
        """Hard-link the current replica into the versions area before it is replaced."""
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        folder, kept_name = _split(check_version_key(keep_as))
        with self._dir_fd(folder, create=True) as keep_fd:
            try:
                os.link(name, kept_name, src_dir_fd=dir_fd, dst_dir_fd=keep_fd, follow_symlinks=False)
            except FileExistsError:
                pass
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
        root = bytes(self.root)
        for folder, dirs, files in os.walk(root):
            rel = os.path.relpath(folder, root)
            if rel == b".":
                dirs[:] = [d for d in dirs if d != META_DIR]
                rel = b""
            for name in files:
                if name.startswith(TEMP_PREFIX) or (not rel and name == MARKER_NAME.encode()):
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

    def remove_temporaries(self) -> int:
        removed = 0
        for folder, _dirs, files in os.walk(bytes(self.root)):
            for name in files:
                if name.startswith(TEMP_PREFIX):
                    _unlink_quietly(os.path.join(folder, name), None)
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

    def _require_marker(self, root_fd: int) -> None:
        """Checked on the very folder fd the write goes through: an unmounted disk's empty mount point
        has no marker, so nothing is ever written into it."""
        try:
            os.stat(MARKER_NAME, dir_fd=root_fd, follow_symlinks=False)
        except FileNotFoundError as exc:
            raise TargetDown(f"marker {MARKER_NAME} missing at {self.root}: is the disk mounted?") from exc

    @contextmanager
    def _dir_fd(self, folder: bytes, create: bool):
        """An fd for ``folder`` under the root, walking one component at a time without following links."""
        with self._root_fd() as root_fd:
            if create:
                self._require_marker(root_fd)
            fd = os.dup(root_fd)
        try:
            walked = []
            for part in folder.split(b"/") if folder else []:
                walked.append(part)
                try:
                    child = _enter(fd, part, create)
                except NotADirectoryError:
                    if not create or stat.S_ISDIR(_lstat_mode(part, fd)):
                        raise
                    self._displace(fd, part, b"/".join(walked))
                    child = _enter(fd, part, create)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)


def _enter(parent_fd: int, part: bytes, create: bool) -> int:
    try:
        return os.open(part, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    try:
        os.mkdir(part, 0o750, dir_fd=parent_fd)
    except FileExistsError:
        pass
    os.fsync(parent_fd)  # the new folder's name must survive a power cut too
    return os.open(part, DIR_FLAGS, dir_fd=parent_fd)


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

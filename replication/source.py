"""Reading a source file safely: no symlinks anywhere on the way, regular files only, and a proof
after the last byte that the file did not change while it was read."""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
from collections.abc import Iterator

from common.beneath import open_beneath

CHUNK = 1 << 20
PARALLEL_HASH = 8 << 20  # files at least this big are hashed on a second thread
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class _InlineHash:
    def __init__(self):
        self._digest = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self._digest.update(chunk)

    def finish(self) -> str:
        return self._digest.hexdigest()


class _BackgroundHash:
    """SHA-256 on its own thread, fed through a short queue (at most 16 chunks held)."""

    def __init__(self):
        self._digest = hashlib.sha256()
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._digest.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self._digest.hexdigest()


class SourceChanged(Exception):
    """The source is not the version the journal recorded (changed, replaced, gone, not a file)."""


class SourceFile:
    """An open source file whose hash is computed as it is read, for one copy."""

    def __init__(self, root: bytes, rel: bytes, size: int, mtime_ns: int, expected_sha256: str | None):
        self.root, self.rel = root, rel
        self.size, self.mtime_ns = size, mtime_ns
        self.expected_sha256 = expected_sha256
        self.sha256: str | None = None
        self._passes = 0
        self.fd = self._open()
        try:
            self.stat = os.fstat(self.fd)
            if not stat.S_ISREG(self.stat.st_mode):
                raise SourceChanged("not a regular file any more")
            self._check(self.stat, "before the copy")
        except BaseException:
            os.close(self.fd)
            raise

    def _open(self) -> int:
        """openat() one component at a time with O_NOFOLLOW: a symlinked folder cannot lead outside."""
        folder, _, name = self.rel.rpartition(b"/")
        try:
            dir_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                if (fd := open_beneath(dir_fd, self.rel, FILE_FLAGS)) is not None:
                    return fd  # one call; anything odd on the way (a symlink, gone) is walked below
                for part in folder.split(b"/") if folder else []:
                    child = os.open(part, DIR_FLAGS, dir_fd=dir_fd)
                    os.close(dir_fd)
                    dir_fd = child
                return os.open(name, FILE_FLAGS, dir_fd=dir_fd)
            finally:
                os.close(dir_fd)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise SourceChanged("gone before the copy") from exc
        except OSError as exc:
            if exc.errno == 40:  # ELOOP: the file or a folder on the way is now a symlink
                raise SourceChanged("now a symlink") from exc
            raise

    def _check(self, st: os.stat_result, when: str) -> None:
        if st.st_size != self.size or st.st_mtime_ns != self.mtime_ns:
            raise SourceChanged(f"changed {when} (size {st.st_size}, was {self.size})")

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes; after the last one, raises SourceChanged if the file moved under us, so a
        target never renames a torn copy into place. Large files are hashed on a second thread
        (hashlib releases the GIL) while the target writes: one read, two cores."""
        hasher = _BackgroundHash() if self.size >= PARALLEL_HASH else _InlineHash()
        total = 0
        if self._passes:  # hashed again after a pass: from the top (a new descriptor is there already)
            os.lseek(self.fd, 0, os.SEEK_SET)
        self._passes += 1
        try:
            while chunk := os.read(self.fd, CHUNK):
                hasher.update(chunk)
                total += len(chunk)
                yield chunk
                if len(chunk) < CHUNK and total == self.size:
                    break  # the recorded size, in a short read: the end, as the fstat below proves
        finally:
            digest = hasher.finish()
        after = os.fstat(self.fd)
        self._check(after, "during the copy")
        if total != self.size:
            raise SourceChanged(f"read {total} bytes, expected {self.size}")
        self._check_same_inode()
        self.sha256 = digest
        if self.expected_sha256 and self.sha256 != self.expected_sha256:
            raise SourceChanged("content differs from the hash in the journal")

    def read_hash(self) -> str:
        """Hash without copying (used when the target may already hold these bytes)."""
        for _ in self.chunks():
            pass
        return self.sha256

    def _check_same_inode(self) -> None:
        try:
            now = os.stat(os.path.join(self.root, self.rel), follow_symlinks=False)
        except OSError as exc:
            raise SourceChanged("removed or renamed during the copy") from exc
        if (now.st_ino, now.st_dev) != (self.stat.st_ino, self.stat.st_dev):
            raise SourceChanged("replaced during the copy")

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "SourceFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The kernel's inotify API: one instance, its watches, its raw events.

The system calls and the constants are watchdog's (``watchdog.observers.inotify_c``); its observer
is not used. The observer keeps each watch's path in a table that a move it cannot pair leaves stale
(every later event in that folder then names a path that does not exist), holds every event back
behind an unpaired move for half a second, and passes each event through three threads and queues.
Here one thread reads, and the table is jaga's own, checked against the kernel's
(``watched_inodes``) and the tree.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import struct
from typing import NamedTuple

from watchdog.observers.inotify_c import InotifyConstants as _C
from watchdog.observers.inotify_c import inotify_add_watch, inotify_init, inotify_rm_watch

IN_MODIFY = _C.IN_MODIFY
IN_ATTRIB = _C.IN_ATTRIB
IN_CLOSE_WRITE = _C.IN_CLOSE_WRITE
IN_MOVED_FROM = _C.IN_MOVED_FROM
IN_MOVED_TO = _C.IN_MOVED_TO
IN_CREATE = _C.IN_CREATE
IN_DELETE = _C.IN_DELETE
IN_DELETE_SELF = _C.IN_DELETE_SELF
IN_MOVE_SELF = _C.IN_MOVE_SELF
IN_UNMOUNT = _C.IN_UNMOUNT
IN_Q_OVERFLOW = _C.IN_Q_OVERFLOW
IN_IGNORED = _C.IN_IGNORED
IN_ONLYDIR = _C.IN_ONLYDIR
IN_DONT_FOLLOW = _C.IN_DONT_FOLLOW
IN_EXCL_UNLINK = _C.IN_EXCL_UNLINK
IN_ISDIR = _C.IN_ISDIR

# what a watched upload folder reports: writes and closes of its files, names appearing, leaving
# and moving, and the folder itself going away; never through a symlink, only on folders
FOLDER_EVENTS = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
                 | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
_HEADER = struct.Struct("iIII")
_BUFFER = 256 * 1024


class RawEvent(NamedTuple):
    wd: int
    mask: int
    cookie: int
    name: bytes


class Inotify:
    """One inotify instance. ``add`` and ``remove`` may be called from any thread; ``read`` from one."""

    def __init__(self):
        self.fd = inotify_init()
        if self.fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"inotify_init: {os.strerror(code)} (fs.inotify.max_user_instances?)")
        os.set_blocking(self.fd, False)
        fcntl.fcntl(self.fd, fcntl.F_SETFD, fcntl.fcntl(self.fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN)

    def add(self, path: bytes, mask: int = FOLDER_EVENTS) -> int:
        """The watch descriptor (the same one again for a folder already watched); OSError with the
        real errno when the kernel refuses (ENOSPC: watch limit, ENOTDIR: not a folder or a symlink)."""
        wd = inotify_add_watch(self.fd, path, mask)
        if wd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return wd

    def remove(self, wd: int) -> None:
        if inotify_rm_watch(self.fd, wd) < 0 and ctypes.get_errno() != errno.EINVAL:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    def read(self, timeout: float) -> list[RawEvent]:
        """Events ready within ``timeout`` seconds (an empty list when none came)."""
        if not self._poll.poll(max(0, int(timeout * 1000))):
            return []
        try:
            data = os.read(self.fd, _BUFFER)
        except BlockingIOError:
            return []
        events, offset = [], 0
        while offset + _HEADER.size <= len(data):
            wd, mask, cookie, length = _HEADER.unpack_from(data, offset)
            start = offset + _HEADER.size
            events.append(RawEvent(wd, mask, cookie, data[start:start + length].rstrip(b"\0")))
            offset = start + length
        return events

    def watched_inodes(self) -> dict[int, tuple[int, int]] | None:
        """wd → (st_dev, st_ino) of what each watch really watches, from /proc/self/fdinfo (None if
        unreadable): the ground truth a path table can be checked against."""
        try:
            with open(f"/proc/self/fdinfo/{self.fd}", "rb") as handle:
                text = handle.read()
        except OSError:
            return None
        found = {}
        for line in text.splitlines():
            if not line.startswith(b"inotify "):
                continue
            fields = dict(part.split(b":", 1) for part in line.split()[1:] if b":" in part)
            sdev = int(fields[b"sdev"], 16)  # the kernel's dev_t: major in the bits above 20
            found[int(fields[b"wd"], 16)] = (os.makedev(sdev >> 20, sdev & 0xFFFFF), int(fields[b"ino"], 16))
        return found

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def watch_limit() -> int | None:
    """fs.inotify.max_user_watches (per user, shared by all of that user's processes)."""
    for path in ("/proc/sys/user/max_inotify_watches", "/proc/sys/fs/inotify/max_user_watches"):
        try:
            with open(path) as handle:
                return int(handle.read())
        except (OSError, ValueError):
            continue
    return None


def watches_held() -> int:
    """inotify watches this process holds, over all its instances (from /proc/self/fdinfo)."""
    held = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}", "rb") as handle:
                held += handle.read().count(b"inotify wd:")
        except OSError:
            continue
    return held

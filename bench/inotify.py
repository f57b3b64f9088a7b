"""When did a final name appear in a folder? A tiny inotify reader (ctypes), timestamping each read.

watchdog would add its own queue and dispatch thread between the kernel and the clock; reading the
inotify fd directly keeps the "visible" timestamp within a read() of the rename.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading
import time

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
HEADER = struct.Struct("iIII")


class AppearanceWatcher:
    """Records the first time each non-hidden name was renamed into, or closed after writing in,
    one folder. Temporary names (``.jaga-tmp-*``, rsync's ``.name.XXXXXX``) start with a dot."""

    def __init__(self, folder: str):
        self.folder = folder
        self.seen: dict[str, float] = {}
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_MOVED_TO | IN_CLOSE_WRITE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder} failed")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="appearance", daemon=True)

    def __enter__(self) -> "AppearanceWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self._fd)

    def count(self) -> int:
        return len(self.seen)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            self._parse(data, time.time())

    def _parse(self, data: bytes, when: float) -> None:
        offset = 0
        while offset < len(data):
            _wd, _mask, _cookie, length = HEADER.unpack_from(data, offset)
            start = offset + HEADER.size
            name = data[start:start + length].rstrip(b"\0").decode("utf-8", "surrogateescape")
            offset = start + length
            if name and not name.startswith(".") and name not in self.seen:
                self.seen[name] = when

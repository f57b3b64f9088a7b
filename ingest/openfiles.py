"""Is a file still open for writing by some process? A slow or stalled upload (sftp with a bandwidth
limit pauses longer than any settle window) is not complete while its writer holds it open.

Asked with a read lease (``F_SETLEASE F_RDLCK``): the kernel grants one only when no process has
the file open for writing, so the answer costs one open and two fcntl calls, whatever the number
of processes on the machine (a scan of /proc/*/fd costs one readlink per descriptor of every
process, and needs CAP_SYS_PTRACE to see other users'). A lease needs the file's owner or
CAP_LEASE (the systemd unit grants it). The lease is dropped at once; a writer opening the file in
that instant waits those microseconds, and the break signal is SIGURG, which is ignored by default.
Where a lease cannot be taken (no CAP_LEASE, a filesystem without leases) the answer is None:
unknown, and the caller falls back on the settle window.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal

FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOATIME", 0)


def held_for_writing(path: bytes) -> tuple[bool | None, str]:
    """(True, _) when a process has ``path`` open for writing, (False, _) when none has, (None, why)
    when jaga cannot tell."""
    try:
        fd = _open(path)
    except FileNotFoundError:
        return False, "gone"
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.ETXTBSY):  # another process holds a lease on it
            return True, "leased"
        return None, f"cannot open it: {exc.strerror}"
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            return True, "open for writing"
        if exc.errno == errno.EACCES:
            return None, "F_SETLEASE refused (EACCES): jaga needs CAP_LEASE, or to own the upload files"
        return None, f"F_SETLEASE failed ({errno.errorcode.get(exc.errno, exc.errno)}): no leases on this filesystem"
    else:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False, "not open for writing"
    finally:
        os.close(fd)


def _open(path: bytes) -> int:
    try:
        return os.open(path, FLAGS)
    except PermissionError:  # O_NOATIME needs the file's owner
        return os.open(path, FLAGS & ~getattr(os, "O_NOATIME", 0))

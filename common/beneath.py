"""Open a path below a folder in one system call, through no symlink and not out of the folder.

jaga never follows a symlink in a watched tree or a target, so every path it opens there is walked
one ``openat(..., O_NOFOLLOW)`` per component: for ``a/b/c/file``, eight system calls, and under load
each one releases and retakes the GIL. Linux's ``openat2`` with ``RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS`` resolves the whole path in one call and refuses any symlink on the way (the
last component included) and any way out of the folder. Python has no binding for it, so it is
called through ``syscall(2)`` (ctypes lets go of the GIL for the call).

It is a fast path only: when it cannot answer (no ``openat2`` before Linux 5.6 or behind a seccomp
filter, or a path that does not resolve plainly: missing, not a folder, a symlink on the way) it
returns None and the caller walks the path as before, which gives the real answer and its error.
"""

from __future__ import annotations

import ctypes
import os

SYS_OPENAT2 = 437  # Linux 5.6; the number only where the new syscalls share one table (not alpha, ia64, mips)
SAME_NUMBER = {"x86_64", "i686", "i386", "aarch64", "armv7l", "armv8l", "riscv64", "ppc64le", "ppc64", "s390x"}
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load_syscall():
    """libc's ``syscall``, if ``openat2`` answers here (probed once, on the current folder). Elsewhere
    437 may be another system call: not called at all."""
    if os.uname().machine not in SAME_NUMBER:
        return None
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    how = _OpenHow(os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
    fd = syscall(SYS_OPENAT2, ctypes.c_int(-100), b".", ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        return None
    os.close(fd)
    return syscall


_SYSCALL = _load_syscall()


def available() -> bool:
    return _SYSCALL is not None


def open_beneath(dir_fd: int, path: bytes, flags: int) -> int | None:
    """A descriptor of ``path`` below ``dir_fd`` opened with ``flags``, or None: walk it instead."""
    if _SYSCALL is None or not path or b"\0" in path:  # C would stop at a NUL: another, shorter path
        return None
    how = _OpenHow(flags | os.O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
    fd = _SYSCALL(SYS_OPENAT2, ctypes.c_int(dir_fd), path, ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    return fd if fd >= 0 else None

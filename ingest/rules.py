"""What counts as a file to keep, and why anything else is skipped."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property


class SkipReason:
    SYMLINK = "symlink"
    FIFO = "fifo"
    SOCKET = "socket"
    DEVICE = "device"
    OTHER = "not_regular"
    UNREADABLE = "unreadable"


def skip_reason(mode: int) -> str | None:
    """None for a regular file; otherwise why it is not replicated."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return SkipReason.SYMLINK
    if stat.S_ISFIFO(mode):
        return SkipReason.FIFO
    if stat.S_ISSOCK(mode):
        return SkipReason.SOCKET
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        return SkipReason.DEVICE
    return SkipReason.OTHER


@dataclass(frozen=True)
class IgnoreRules:
    """Glob patterns matched against every component of the relative path (so ``.*`` hides dot-folders)."""

    patterns: tuple[str, ...]

    @cached_property
    def _regex(self) -> re.Pattern[bytes] | None:
        if not self.patterns:
            return None
        joined = "|".join(fnmatch.translate(p) for p in self.patterns)
        return re.compile(os.fsencode(joined), re.DOTALL)

    def ignores(self, relpath: bytes) -> bool:
        regex = self._regex
        return regex is not None and any(regex.match(part) for part in relpath.split(b"/"))

    def ignores_name(self, name: bytes) -> bool:
        regex = self._regex
        return regex is not None and regex.match(name) is not None


def is_settled(st: os.stat_result, now: float, settle: float) -> bool:
    """Stable for the settle window: no data or metadata change since ``now - settle``.

    ctime is used as well as mtime because ctime cannot be set back by a writer (utime), so a file
    extracted with an old mtime but still being written is not taken for complete.
    """
    newest = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
    return now - newest >= settle

"""Reconcile scans: walk a watched tree and hand on whatever the journal does not know yet.

Events are hints; this is how files written while jaga was down, or whose events inotify lost,
get in. The walk never follows symlinks, and compares with the journal one batch at a time so its
memory does not grow with the journal.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator

from ingest.rules import IgnoreRules

log = logging.getLogger("jaga.scan")
BATCH = 500
PROGRESS_EVERY = 10.0  # seconds between progress lines of a long reconcile
SHORTAGE = {errno.EMFILE, errno.ENFILE}
SHORTAGE_FIRST_WAIT, SHORTAGE_MAX_WAIT = 0.05, 5.0   # seconds between tries while out of descriptors


def walk(root: bytes, start: bytes, rules: IgnoreRules) -> Iterator[tuple[bytes, os.stat_result]]:
    """(relative path, lstat) of every non-directory below root/start, depth first, links not followed."""
    stack = [start]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = _list(os.path.join(root, rel_dir) if rel_dir else root)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            log.warning("cannot list %s: %s", os.fsdecode(os.path.join(root, rel_dir)), exc.strerror)
            continue
        for entry in entries:
            if rules.ignores_name(entry.name):
                continue
            rel = os.path.join(rel_dir, entry.name) if rel_dir else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            else:
                yield rel, st


def _list(folder: bytes) -> list[os.DirEntry]:
    """A folder's entries. Out of descriptors (EMFILE, ENFILE) is a passing shortage, not a verdict on
    the folder: wait and try again, or the files in it would stay unknown until the next full rescan."""
    delay, warned_at = SHORTAGE_FIRST_WAIT, None
    while True:
        try:
            return list(os.scandir(folder))
        except OSError as exc:
            if exc.errno not in SHORTAGE:
                raise
            if warned_at is None or time.monotonic() - warned_at > 60:
                log.warning("cannot list %s: %s; trying again until descriptors are free", os.fsdecode(folder),
                            exc.strerror)
                warned_at = time.monotonic()
            time.sleep(delay)
            delay = min(delay * 2, SHORTAGE_MAX_WAIT)


class Reconciler:
    """Compares a tree with the journal and submits what differs: new, changed or odd entries, and
    journaled paths that are gone (their deletion is the journal's only news of a file removed while
    jaga was down, or whose event was lost)."""

    def __init__(self, known_states: Callable[[str, list[bytes]], dict],
                 current_paths: Callable[[str, bytes, bytes | None, int], list[bytes]],
                 submit: Callable[..., None], submit_gone: Callable[[str, list[bytes]], None]):
        self._known_states = known_states
        self._current_paths = current_paths
        self._submit = submit
        self._submit_gone = submit_gone

    def reconcile(self, watch: str, root: bytes, rules: IgnoreRules, start: bytes = b"",
                  compare: bool = True) -> tuple[int, int]:
        """Returns (entries seen, entries submitted). ``compare=False``: a folder new to the tree, where
        the journal has next to nothing: everything is submitted without asking it first (recording
        drops a version the journal already has, so nothing is recorded twice)."""
        seen = submitted = 0
        batch: list[tuple[bytes, os.stat_result]] = []
        next_report = time.monotonic() + PROGRESS_EVERY
        for item in walk(root, start, rules):
            batch.append(item)
            seen += 1
            if len(batch) >= BATCH:
                submitted += self._flush(watch, batch, compare)
                batch = []
            if seen % 1000 == 0 and time.monotonic() >= next_report:
                next_report = time.monotonic() + PROGRESS_EVERY
                log.info("reconcile %s: %d entries checked so far, %d to record", watch, seen, submitted)
        submitted += self._flush(watch, batch, compare)
        return seen, submitted

    def deletions(self, watch: str, root: bytes, start: bytes = b"") -> int:
        """Submit the journal's current paths below ``start`` that are no longer files; returns how many.
        One lstat per journaled path, read a page at a time (memory stays flat)."""
        gone_total = 0
        after = None
        while paths := self._current_paths(watch, start, after, BATCH):
            gone = [path for path in paths if not _is_file(os.path.join(root, path))]
            if gone:
                self._submit_gone(watch, gone)
                gone_total += len(gone)
            after = paths[-1]
        return gone_total

    def _flush(self, watch: str, batch: list[tuple[bytes, os.stat_result]], compare: bool) -> int:
        if not batch:
            return 0
        known = self._known_states(watch, [rel for rel, _ in batch]) if compare else {}
        changed = [(rel, st) for rel, st in batch if not stat.S_ISREG(st.st_mode) or not _same(known.get(rel), st)]
        if changed:
            self._submit(watch, changed)
        return len(changed)


def _is_file(path: bytes) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _same(known: tuple | None, st: os.stat_result) -> bool:
    """The journal's newest version is this file: same size, mtime and (when recorded) inode."""
    if known is None:
        return False
    size, mtime_ns, inode = known
    return size == st.st_size and mtime_ns == st.st_mtime_ns and (inode is None or inode == st.st_ino)

"""One watched upload tree: an inotify watch on every folder, kept true to the tree.

The table (watch descriptor ↔ folder path) is the part that goes wrong under churn: a folder moved
out of the tree, a move whose two halves are not seen together, a watch whose folder is replaced.
So a move is paired here on its cookie without holding other events back; a folder moved away
unpaired loses its watches; and the table is checked against the tree (``audit``) periodically and
whenever something suggests it may be wrong. A watch root that is deleted, replaced, moved or
turned into a symlink is noticed within a second, reported (``problem``), and watched again once a
real folder is back, with a rescan.
"""

from __future__ import annotations

import bisect
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable

from ingest import inotify
from ingest.events import Hint
from ingest.rules import IgnoreRules
from journal.records import display

log = logging.getLogger("jaga.watch")
ROOT_CHECK = 0.5     # seconds between checks that the root is still the folder we watch
MOVE_GRACE = 0.02    # a move's second half is queued with its first; past this, it went out of the tree
SUSPECT_GAP = 1.0    # fewest seconds between two audits asked for by suspicious events
READ_WAIT = 0.5


class FolderWatcher:
    """Watches ``root`` and everything below it (ignored folders excepted) on its own thread.

    ``emit`` gets lists of (Hint, relative path) in event order; ``lost(rel, reason)`` asks for a
    rescan of a subtree whose events may have been missed. Reads of ``live``, ``problem`` and
    ``unwatched`` from other threads are safe.
    """

    def __init__(self, label: str, root: bytes, rules: IgnoreRules, emit: Callable[[list], None],
                 lost: Callable[[bytes, str], None], metrics, audit_interval: float = 30.0):
        self.label = label
        self.root = root
        self.rules = rules
        self.audit_interval = audit_interval
        self._emit = emit
        self._lost = lost
        self._metrics = metrics
        self._inotify = inotify.Inotify()
        self._paths: dict[int, bytes] = {}   # wd → folder, relative to root (b"" is the root)
        self._wds = _FolderTable()           # the inverse, always
        self._pending: dict[int, tuple[float, int, bytes, int]] = {}  # cookie → (when, read, folder, wd)
        self._reads = 0
        self._root_id: tuple[int, int] | None = None
        self.unwatched: dict[bytes, str] = {}  # folder → why its watch could not be added
        self.live = False
        self.problem: str | None = "not started"
        self.down_since: float | None = None
        self._suspects: dict[bytes, str] = {}  # folder → why (written by the ingest thread)
        self._suspects_lock = threading.Lock()
        self._suspect_at = 0.0
        self._audited_at = time.monotonic()
        self._root_checked = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_loop_at = time.monotonic()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Watch the tree now (so a caller's reconcile afterwards misses nothing), then read events."""
        self._establish(restart=False)
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.label}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._inotify.close()

    def suspect(self, folder: bytes, why: str) -> None:
        """An event named ``folder`` and it is not there: usually it moved a moment ago (its move is
        queued), but it may be a watch that names the wrong folder. Checked soon (``_step``)."""
        with self._suspects_lock:
            if not self._suspects:
                self._suspect_at = time.monotonic()
            if len(self._suspects) < 1000:
                self._suspects[folder] = why

    def root_intact(self) -> bool:
        """Live, and the root path still names the folder being watched (one lstat)."""
        return self.live and self._identity() == self._root_id

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # no beat: a watch failing every round must not look alive (/healthz)
                log.exception("watch %s: unexpected error; rescanning", self.label)
                self._metrics.internal_errors.labels(part="watch").inc()
                self._lost(b"", "events_lost")
                self._stopping.wait(1.0)
            else:
                self.last_loop_at = time.monotonic()

    def _step(self) -> None:
        now = time.monotonic()
        if not self.live:
            self._establish(restart=True)
            if not self.live:
                self._stopping.wait(ROOT_CHECK)
            return
        events = self._inotify.read(MOVE_GRACE if self._pending else READ_WAIT)
        self._reads += 1
        if events:
            self._handle(events)
        if self._pending:
            self._moved_out(time.monotonic())
        if not self.live:
            return
        if now - self._root_checked >= ROOT_CHECK:
            self._root_checked = now
            self._check_root()
        if self._suspects and now - self._suspect_at >= MOVE_GRACE and self._confirmed_suspicion():
            if now - self._audited_at >= SUSPECT_GAP:
                self.audit()
        elif now - self._audited_at >= self.audit_interval:
            self.audit()

    def _confirmed_suspicion(self) -> bool:
        """After the queued events are applied: does a watch still name a folder that is not there?
        (Only then is the tree walked; a folder that simply moved is rebound by its move event.)"""
        self._drain()
        with self._suspects_lock:
            suspects, self._suspects = self._suspects, {}
        named = [(folder, why) for folder, why in suspects.items() if folder in self._wds]
        kernel = (self._inotify.watched_inodes() or {}) if named else {}
        wrong = [(folder, why) for folder, why in named if self._names_wrong(folder, self._wds[folder], kernel)]
        if wrong:
            log.info("watch %s: %s (%s): checking every watch", self.label, wrong[0][1], display(wrong[0][0]))
            self._suspects = dict(wrong)  # kept until an audit has run
            self._suspect_at = time.monotonic()
        return bool(wrong)

    # -- events -------------------------------------------------------------------------------

    def _handle(self, events: list[inotify.RawEvent]) -> None:
        hints: list[tuple[Hint, bytes]] = []
        changing: set[bytes] = set()   # CHANGING already said in this read (writes come in streams)
        for event in events:
            if event.mask & inotify.IN_Q_OVERFLOW:
                self._overflowed()
                continue
            folder = self._paths.get(event.wd)
            if folder is None:
                continue  # a watch already dropped
            if not event.name:
                self._self_event(event, folder)
                if not self.live:
                    return
                continue
            if self.rules.ignores_name(event.name):
                continue  # never journaled; ignored folders are not watched (one renamed to an ignored
                # name is a move out of the tree: its pending half below is resolved as such)
            rel = folder + b"/" + event.name if folder else event.name
            if event.mask & inotify.IN_ISDIR:
                self._folder_event(event, rel, hints)
            elif event.mask & inotify.IN_CLOSE_WRITE:
                hints.append((Hint.CLOSED, rel))
                changing.discard(rel)
            elif event.mask & (inotify.IN_MODIFY | inotify.IN_CREATE | inotify.IN_ATTRIB):
                if rel not in changing:
                    hints.append((Hint.CHANGING, rel))
                    changing.add(rel)
            elif event.mask & inotify.IN_MOVED_TO:
                hints.append((Hint.MOVED_IN, rel))
                changing.discard(rel)
            elif event.mask & (inotify.IN_DELETE | inotify.IN_MOVED_FROM):
                hints.append((Hint.DELETED, rel))
                changing.discard(rel)
        if hints:
            self._emit(hints)

    def _folder_event(self, event: inotify.RawEvent, rel: bytes, hints: list) -> None:
        if event.mask & inotify.IN_CREATE:
            if self._watch_tree(rel):
                hints.append((Hint.DIR_APPEARED, rel))
        elif event.mask & inotify.IN_MOVED_FROM:
            hints.append((Hint.DIR_GONE, rel))
            wd = self._wds.get(rel)
            if wd is not None:
                self._pending[event.cookie] = (time.monotonic(), self._reads, rel, wd)
        elif event.mask & inotify.IN_MOVED_TO:
            moved = self._pending.pop(event.cookie, None)
            if moved is not None and self._paths.get(moved[3]) == moved[2]:
                self._move_prefix(moved[2], rel)   # a move inside the tree: the watches go along
            else:
                self._watch_tree(rel)              # moved in from outside (or its first half was lost)
            hints.append((Hint.DIR_APPEARED, rel))
        elif event.mask & inotify.IN_DELETE:
            hints.append((Hint.DIR_GONE, rel))

    def _self_event(self, event: inotify.RawEvent, folder: bytes) -> None:
        """Events about a watched folder itself. Only the root's matter: below it, the parent says."""
        if event.mask & inotify.IN_IGNORED:
            self._unbind(event.wd)
        if folder:
            if event.mask & inotify.IN_UNMOUNT:  # the mount point stays, unwatched: the audit re-watches it
                self._audited_at = min(self._audited_at, time.monotonic() - self.audit_interval + SUSPECT_GAP)
            return
        if event.mask & (inotify.IN_DELETE_SELF | inotify.IN_IGNORED | inotify.IN_UNMOUNT):
            self._lose_root("was deleted or unmounted")
        elif event.mask & inotify.IN_MOVE_SELF:
            self._lose_root("was moved or renamed away")

    def _moved_out(self, now: float) -> None:
        """Folders moved away whose arrival did not follow (the kernel queues both halves of a rename
        together, so one later read is enough): they left the tree; drop their watches."""
        for cookie, (when, read, rel, wd) in list(self._pending.items()):
            if read == self._reads or now - when < MOVE_GRACE:
                continue
            del self._pending[cookie]
            if self._paths.get(wd) == rel:
                self._drop_tree(rel)

    def _overflowed(self) -> None:
        log.warning("watch %s: the inotify queue overflowed (fs.inotify.max_queued_events); events were "
                    "lost: checking every watch and rescanning", self.label)
        self._pending.clear()
        self._lost(b"", "events_lost")
        self._audited_at = float("-inf")

    # -- the table ----------------------------------------------------------------------------

    def _bind(self, wd: int, rel: bytes) -> None:
        """Keep the two maps exact inverses: a path or a wd named again loses its old pairing."""
        old_path = self._paths.pop(wd, None)
        if old_path is not None and old_path != rel and self._wds.get(old_path) == wd:
            del self._wds[old_path]
        displaced = self._wds.get(rel)
        if displaced is not None and displaced != wd:
            del self._paths[displaced]  # that watch now follows a folder somewhere else: the audit finds it
            self._audited_at = min(self._audited_at, time.monotonic() - self.audit_interval + SUSPECT_GAP)
        self._paths[wd] = rel
        self._wds[rel] = wd

    def _unbind(self, wd: int) -> None:
        rel = self._paths.pop(wd, None)
        if rel is not None and self._wds.get(rel) == wd:
            del self._wds[rel]

    def _below(self, rel: bytes) -> list[tuple[bytes, int]]:
        return self._wds.below(rel)

    def _move_prefix(self, old: bytes, new: bytes) -> None:
        moved = self._below(old)
        for path, wd in moved:
            self._unbind(wd)
        for path, wd in moved:
            self._bind(wd, new + path[len(old):])

    def _drop_tree(self, rel: bytes) -> None:
        for _path, wd in self._below(rel):
            self._unbind(wd)
            try:
                self._inotify.remove(wd)
            except OSError:
                pass

    def _watch_tree(self, rel: bytes) -> bool:
        """Watch a folder and every folder below it; True if ``rel`` was not watched at that path."""
        new = rel not in self._wds
        stack = [rel]
        while stack:
            folder = stack.pop()
            if folder and self.rules.ignores(folder):
                continue
            if not self._watch_one(folder):
                continue
            stack.extend(os.path.join(folder, e.name) if folder else e.name for e in self._folder_entries(folder))
        return new

    def _watch_one(self, folder: bytes) -> bool:
        path = os.path.join(self.root, folder) if folder else self.root
        try:
            wd = self._inotify.add(path)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):  # gone again, or a symlink: not ours
                self._could_not_watch(folder, exc)
            return False
        self._bind(wd, folder)
        if self.unwatched.pop(folder, None) is not None:
            log.info("watch %s: %s is watched now", self.label, display(folder))
        return True

    def _could_not_watch(self, folder: bytes, exc: OSError) -> None:
        if folder in self.unwatched:
            return
        self.unwatched[folder] = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            limit, ours = inotify.watch_limit(), inotify.watches_held()
            whose = ("raise it: sysctl fs.inotify.max_user_watches" if limit is None or ours >= limit else
                     f"other processes of uid {os.geteuid()} hold the rest")
            why = (f"the kernel refused a new inotify watch (ENOSPC: the per-user limit "
                   f"fs.inotify.max_user_watches is {limit}; jaga holds {ours} of them; {whose})")
        else:
            why = f"inotify_add_watch failed: [{errno.errorcode.get(exc.errno, exc.errno)}] {exc.strerror}"
        log.warning("watch %s: could not watch %s: %s; its files are found by rescans until it is watched",
                    self.label, display(folder), why)
        self._metrics.watch_failures.inc()

    # -- the root -----------------------------------------------------------------------------

    def _establish(self, restart: bool) -> None:
        """Watch the root (a real folder, never a symlink) and the tree below it."""
        problem = self._root_problem()
        if problem is None:
            try:
                wd = self._inotify.add(self.root)
            except OSError as exc:
                problem = f"cannot be watched: {exc.strerror}"
        if problem is not None:
            if problem != self.problem:
                log.error("watch %s: %s %s; new uploads there are not seen until it is a real folder again",
                          self.label, display(self.root), problem)
                self.problem = problem
            self.down_since = self.down_since or time.time()
            self._set_up(False)
            return
        self._root_id = self._identity()
        self._bind(wd, b"")
        self._watch_tree(b"")
        self.live, self.problem, self.down_since = True, None, None
        self._set_up(True)
        self._audited_at = time.monotonic()
        if restart:
            log.warning("watch %s: %s is watched again; rescanning it", self.label, display(self.root))
            self._metrics.watch_restarts.labels(watch=self.label).inc()
            self._lost(b"", "watch_restarted")

    def _root_problem(self) -> str | None:
        try:
            st = os.lstat(self.root)
        except FileNotFoundError:
            return "does not exist"
        except OSError as exc:
            return f"cannot be read: {exc.strerror}"
        if stat.S_ISLNK(st.st_mode):
            try:
                target = display(os.readlink(self.root))
            except OSError:
                target = "?"
            return f"is a symlink (to {target}); jaga does not follow symlinks out of a watched tree"
        if not stat.S_ISDIR(st.st_mode):
            return "is not a folder"
        return None

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.lstat(self.root)
        except OSError:
            return None
        return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None

    def _check_root(self) -> None:
        """The path may now name another folder (recreated, remounted) while our watch follows the old one."""
        if self._identity() != self._root_id:
            self._lose_root("was replaced by another folder, or is gone")

    def _lose_root(self, why: str) -> None:
        log.error("watch %s: %s %s; new uploads there are not seen until it is watched again",
                  self.label, display(self.root), why)
        for wd in list(self._paths):
            try:
                self._inotify.remove(wd)
            except OSError:
                pass
        self._paths.clear()
        self._wds.clear()
        self._pending.clear()
        self.live, self.problem, self.down_since = False, why, time.time()
        self._set_up(False)

    def _set_up(self, up: bool) -> None:
        self._metrics.watch_up.labels(watch=self.label).set(1 if up else 0)

    # -- the check ----------------------------------------------------------------------------

    def audit(self) -> list[bytes]:
        """Check the table against the tree and the kernel: every watched path is there and is the
        folder its watch watches; every folder in the tree has a watch. Repairs what is wrong (the
        repaired subtrees are rescanned) and returns the folders repaired.

        The walk races with the tree: a folder made during it is not in the table yet because its
        event is still queued. So what looks wrong is checked again after the queued events are
        applied, and only what is still wrong then is repaired and reported."""
        self._suspects = {}
        self._audited_at = time.monotonic()
        missing, stale = self._differences()
        if not (missing or stale):
            return []
        self._drain()
        if not self.live:
            return []
        kernel = self._inotify.watched_inodes() or {}
        missing = [rel for rel in missing if self._lacks_watch(rel, kernel)]
        stale = [(path, wd) for path, wd in stale if self._paths.get(wd) == path and self._names_wrong(path, wd, kernel)]
        return self._repair(missing, stale)

    def _differences(self) -> tuple[list[bytes], list[tuple[bytes, int]]]:
        """One walk of the folders (no stat: a folder's inode comes with its directory entry)."""
        kernel = self._inotify.watched_inodes()
        if kernel is None or self._identity() != self._root_id:
            return [], []
        seen: set[bytes] = {b""}
        missing: list[bytes] = []
        stack = [b""]
        while stack:
            folder = stack.pop()
            for entry in self._folder_entries(folder):
                rel = os.path.join(folder, entry.name) if folder else entry.name
                wd = self._wds.get(rel)
                if wd is None or not self._same_folder(kernel.get(wd), entry):
                    missing.append(rel)  # _watch_tree covers its subtree
                else:
                    seen.add(rel)
                    stack.append(rel)
        moving = {wd for _when, _read, _rel, wd in self._pending.values()}
        stale = [(path, wd) for path, wd in self._wds.items() if path not in seen and wd not in moving]
        return missing, stale

    def _drain(self, reads: int = 20) -> None:
        for _ in range(reads):
            events = self._inotify.read(0)
            self._reads += 1
            if not events:
                return
            self._handle(events)
            if not self.live:
                return

    def _lacks_watch(self, rel: bytes, kernel: dict) -> bool:
        try:
            st = os.lstat(os.path.join(self.root, rel))
        except OSError:
            return False
        wd = self._wds.get(rel)
        return stat.S_ISDIR(st.st_mode) and (wd is None or kernel.get(wd) != (st.st_dev, st.st_ino))

    def _names_wrong(self, path: bytes, wd: int, kernel: dict) -> bool:
        try:
            st = os.lstat(os.path.join(self.root, path) if path else self.root)
        except OSError:
            return True
        return not stat.S_ISDIR(st.st_mode) or kernel.get(wd) != (st.st_dev, st.st_ino)

    def _folder_entries(self, folder: bytes) -> list[os.DirEntry]:
        path = os.path.join(self.root, folder) if folder else self.root
        try:
            with os.scandir(path) as entries:
                return [e for e in entries if e.is_dir(follow_symlinks=False) and not self.rules.ignores_name(e.name)]
        except OSError:
            return []

    def _same_folder(self, watched: tuple[int, int] | None, entry: os.DirEntry) -> bool:
        if watched is None:
            return False
        if watched[1] == entry.inode():
            return True
        try:  # a mount point's entry names the folder below the mount: ask stat
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == watched

    def _repair(self, missing: list[bytes], stale: list[tuple[bytes, int]]) -> list[bytes]:
        """Unbind what is not true, watch what lacks a watch (a folder whose watch failed before is
        simply tried again), drop kernel watches nothing names any more, rescan what was repaired."""
        retried = [rel for rel in missing if rel in self.unwatched]
        for _path, wd in stale:
            self._unbind(wd)
        for rel in missing:
            self._watch_tree(rel)
        for _path, wd in stale:
            if wd not in self._paths:
                try:
                    self._inotify.remove(wd)
                except OSError:
                    pass
        for rel in list(self.unwatched):
            if not os.path.isdir(os.path.join(self.root, rel)):
                del self.unwatched[rel]  # gone: nothing left to rescan there
        now_watched = [rel for rel in retried if rel in self._wds]
        wrong = sorted({rel for rel in missing if rel not in retried}
                       | {path for path, wd in stale if self._wds.get(path) != wd})
        if wrong:
            log.warning("watch %s: %d folder(s) had no working watch (e.g. %s); watched again and rescanned",
                        self.label, len(wrong), ", ".join(display(r) for r in wrong[:3]))
            self._metrics.watch_repairs.labels(watch=self.label).inc(len(wrong))
        for rel in _topmost(wrong + now_watched):
            self._lost(rel, "watch_repaired")
        return wrong

    def unwatched_folders(self) -> list[bytes]:
        return sorted(self.unwatched.copy())


def _under_any(path: bytes, folders: list[bytes]) -> bool:
    return any(path == f or path.startswith(f + b"/") for f in folders)


def _topmost(folders: list[bytes]) -> list[bytes]:
    """The folders not inside another one of the list (a rescan of each covers all)."""
    result: list[bytes] = []
    for folder in sorted(folders):
        if not any(folder == top or folder.startswith(top + b"/") for top in result):
            result.append(folder)
    return result


class _FolderTable:
    """folder → wd, its folders also kept in sorted order: the folders at and below a moved folder are
    a range found by bisection, not a pass over every watch (churn moves folders many times a second,
    in trees of thousands of folders). Not a dict: only what keeps the two in step is offered."""

    def __init__(self):
        self._wds: dict[bytes, int] = {}
        self._sorted: list[bytes] = []

    def __contains__(self, folder: bytes) -> bool:
        return folder in self._wds

    def __getitem__(self, folder: bytes) -> int:
        return self._wds[folder]

    def get(self, folder: bytes, default: int | None = None) -> int | None:
        return self._wds.get(folder, default)

    def items(self):
        return self._wds.items()

    def __setitem__(self, folder: bytes, wd: int) -> None:
        if folder not in self._wds:
            bisect.insort(self._sorted, folder)
        self._wds[folder] = wd

    def __delitem__(self, folder: bytes) -> None:
        del self._wds[folder]
        del self._sorted[bisect.bisect_left(self._sorted, folder)]

    def clear(self) -> None:
        self._wds.clear()
        self._sorted.clear()

    def below(self, folder: bytes) -> list[tuple[bytes, int]]:
        """(folder, wd) of ``folder`` and every folder below it (b"": all): from "folder/" up to, not
        including, "folder0" ("/" + 1)."""
        if not folder:
            return list(self._wds.items())
        low = bisect.bisect_left(self._sorted, folder + b"/")
        high = bisect.bisect_left(self._sorted, folder + b"0", low)
        found = [(path, self._wds[path]) for path in self._sorted[low:high]]
        return [(folder, self._wds[folder]), *found] if folder in self._wds else found

"""The ingest loop: every hint and every scan funnels into one idempotent "observe this path" step.

One thread owns the journal writes of ingest, so two hints about the same file can never race into
two versions; it drains its queue in batches and writes each batch in one short transaction.
"""

from __future__ import annotations

import heapq
import logging
import os
import queue
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from ingest.events import Hint
from ingest.openfiles import held_for_writing
from ingest.rules import IgnoreRules, is_settled, skip_reason
from ingest.scanner import Reconciler
from ingest.watcher import FolderWatcher
from journal import Journal, JournalError
from journal.records import Observation, SkipRecord, display

log = logging.getLogger("jaga.ingest")
MAX_BATCH = 2000
GATHER = 0.02            # seconds a batch waits for more items once its first one is there
# names upload programs give a file they are about to rename (nginx's WebDAV PUT with its body buffer on
# another filesystem copies to ``<name>.<10 digits>``, then renames): closed, such a file still waits
# one settle window, so a rename that comes late under load leaves no temporary name in the journal;
# one never renamed is recorded after the window, so nothing is lost
TEMPORARY_NAME = re.compile(rb"\.[0-9]{10}\Z")
UNWATCHED_RESCAN = 10.0  # seconds between rescans of a folder inotify could not watch


@dataclass(frozen=True)
class WatchRoot:
    label: str
    root: bytes
    rules: IgnoreRules


class Ingest:
    """Watches the upload folders and records complete files in the journal."""

    def __init__(self, watches: list[WatchRoot], journal: Journal, targets: list[str], settle: float,
                 metrics, on_recorded: Callable[[], None], open_file_limit: float = 3600.0,
                 watch_check: float = 30.0):
        self.watches = {w.label: w for w in watches}
        self.journal = journal
        self.targets = targets
        self.settle = settle
        self.open_file_limit = open_file_limit
        self.watch_check = watch_check
        self.metrics = metrics
        self._on_recorded = on_recorded
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._settling: dict[tuple[str, bytes], _Settling] = {}
        self._deadlines: list[tuple[float, str, bytes]] = []  # (monotonic due, watch, path)
        self.watchers: dict[str, FolderWatcher] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._scan_lock = threading.Lock()
        self._scans: queue.SimpleQueue = queue.SimpleQueue()
        self._scans_waiting = 0  # queued or running scans, for `jaga sync` to wait on
        self._scans_lock = threading.Lock()
        self._idle = threading.Event()
        self._loop_at = time.monotonic()
        self._committed_at = float("-inf")
        self._reconciler = Reconciler(journal.known_states, journal.current_paths, self._submit_scanned,
                                      self._submit_gone)
        self._batch = _Batch()
        self._real_folders: dict[tuple[str, bytes], bool] = {}
        self._real_roots: dict[str, bytes] = {}
        self._roots_intact: dict[str, bool] = {}
        self._leases_unknown: set[str] = set()  # watches where "still open?" cannot be asked (logged once)
        self._held: set[tuple[str, bytes]] = set()  # waiting for a writer to close them (logged once each)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        for watch in self.watches.values():   # a missing root is a config error (jaga.preflight), never created
            watcher = FolderWatcher(watch.label, watch.root, watch.rules, partial(self._emitted, watch.label),
                                    partial(self._watch_lost, watch.label), self.metrics, self.watch_check)
            self.watchers[watch.label] = watcher
            watcher.start()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()
        threading.Thread(target=self._scan_loop, name="reconcile", daemon=True).start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        for watcher in self.watchers.values():
            watcher.stop(timeout)
        self._queue.put(None)
        self._scans.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def last_loop_at(self) -> float:
        """The oldest heartbeat of the ingest loop and the watchers: any of them stalled is a stall."""
        return min([self._loop_at, *(w.last_loop_at for w in self.watchers.values())])

    def watch_problems(self) -> list[str]:
        """Watches whose root is not watched now (deleted, replaced, a symlink): for /readyz."""
        problems = []
        for label, watcher in self.watchers.items():
            if not watcher.live:
                since = time.strftime("%H:%M:%S", time.localtime(watcher.down_since)) if watcher.down_since else "?"
                problems.append(f"watch {label}: {display(watcher.root)} {watcher.problem} "
                                f"(not watched since {since}; new uploads there are not seen)")
        return problems

    # -- inputs -------------------------------------------------------------------------------

    def hint(self, hint: Hint, watch: str, rel: bytes) -> None:
        """Something may have happened to this path: look at it again."""
        self._queue.put(("hints", watch, [(hint, rel)]))

    def _emitted(self, watch: str, hints: list[tuple[Hint, bytes]]) -> None:
        self._queue.put(("hints", watch, hints))

    def _watch_lost(self, watch: str, rel: bytes, reason: str) -> None:
        """A watcher may have missed events below ``rel``: rescan it at once, not at the next reconcile."""
        if reason == "events_lost":
            log.warning("events were lost in %s: reconciling %s now", watch, display(rel) if rel else "it all")
        self.reconcile_in_background(reason, start=rel, only=watch)

    def _submit_scanned(self, watch: str, entries: list) -> None:
        self._queue.put(("scanned", watch, entries))

    def _submit_gone(self, watch: str, paths: list[bytes]) -> None:
        self._queue.put(("gone", watch, paths))

    def reconcile(self, reason: str, start: bytes = b"", only: str | None = None, walk: bool = True,
                  deletions: bool = True, compare: bool = True) -> None:
        """Walk the watches (or one folder of one), queue what the journal lacks and what it lists that
        is gone. Blocks. A watch whose root is not watched now is left for the rescan of its restart."""
        with self._scan_lock:
            for watch in self.watches.values():
                if only is not None and watch.label != only:
                    continue
                watcher = self.watchers.get(watch.label)
                if watcher is not None and not watcher.live:
                    continue
                began = time.monotonic()
                seen = submitted = 0
                if walk:
                    seen, submitted = self._reconciler.reconcile(watch.label, watch.root, watch.rules, start,
                                                                 compare)
                gone = self._deletions(watch, start, seen, watcher) if deletions else 0
                if not start:
                    log.info("reconcile (%s) of %s: %d entries, %d to record, %d gone, %.1fs", reason,
                             watch.label, seen, submitted, gone, time.monotonic() - began)
                    self.metrics.rescans.labels(reason=reason).inc()

    def _deletions(self, watch: WatchRoot, start: bytes, seen: int, watcher: FolderWatcher | None) -> int:
        """A whole root that is empty is taken for a disk not mounted (or not restored yet), not for
        every upload deleted: nothing is marked then. Nor when the root changed during the walk."""
        if not start and seen == 0 and not _has_entries(watch.root):
            if self.journal.current_paths(watch.label, b"", None, 1):
                log.warning("watch %s: %s is empty but the journal lists files there; not marking them "
                            "deleted (a disk not mounted?)", watch.label, display(watch.root))
            return 0
        if watcher is not None and not watcher.root_intact():
            return 0
        return self._reconciler.deletions(watch.label, watch.root, start)

    def reconcile_in_background(self, reason: str, start: bytes = b"", only: str | None = None,
                                walk: bool = True, deletions: bool = True, compare: bool = True) -> None:
        with self._scans_lock:
            self._scans_waiting += 1
        self._scans.put((reason, start, only, walk, deletions, compare))

    def _scan_loop(self) -> None:
        """One scanning thread: new folders and rescans queue up here instead of piling up threads."""
        while (request := self._scans.get()) is not None:
            try:
                self.reconcile(*request)
            except JournalError as exc:
                log.error("reconcile (%s) stopped: %s", request[0], exc)
            except Exception:
                log.exception("reconcile (%s) failed", request[0])
            finally:
                with self._scans_lock:
                    self._scans_waiting -= 1

    def rescan_unwatched(self) -> None:
        """Scheduled: reconcile every folder whose watch failed (a cheap walk of just those folders)."""
        for label, watcher in self.watchers.items():
            for rel in watcher.unwatched_folders():
                self.reconcile_in_background("unwatched_folder", start=rel, only=label)

    def wait_idle(self, timeout: float) -> bool:
        """For `jaga sync`: True once everything queued so far is processed and nothing is settling."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._idle.clear()
            self._queue.put(("idle?", None, None))
            if self._idle.wait(max(0.0, deadline - time.monotonic())) and not self._settling \
                    and self._scans_waiting == 0 and self._queue.empty():
                return True
            time.sleep(0.05)
        return False

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            items = self._take(self._wait_time() if not self._batch else 1.0)
            try:
                self._process(items)
            except JournalError as exc:
                log.error("cannot record in the journal, will retry: %s", exc)
                self.metrics.journal_errors.inc()
                self._stopping.wait(1.0)
            except Exception:  # a bug must not stop ingest: the batch is kept and tried again; no
                # heartbeat meanwhile, so a bug that repeats every batch turns /healthz red
                log.exception("unexpected error in ingest; going on")
                self.metrics.internal_errors.labels(part="ingest").inc()
                self._stopping.wait(1.0)
                continue
            self._loop_at = time.monotonic()

    def _wait_time(self) -> float:
        if not self._deadlines:
            return 1.0
        return min(1.0, max(0.0, self._deadlines[0][0] - time.monotonic()))

    def _take(self, timeout: float) -> list:
        """The next items. A lone event is taken at once; in a stream, what arrives until GATHER after
        the last commit joins the batch, so a stream makes one transaction per GATHER, not one per
        event (a commit holds the journal's one write lock, which the replicators need too)."""
        items = []
        try:
            items.append(self._queue.get(timeout=timeout))
            until = self._committed_at + GATHER
            while len(items) < MAX_BATCH and items[-1] is not None:
                items.append(self._queue.get(timeout=max(0.0, until - time.monotonic())))
        except queue.Empty:
            pass
        return [item for item in items if item is not None]

    def _process(self, items: list) -> None:
        """Fold items into the pending batch and commit it; a batch the journal refused stays pending
        (nothing observed is dropped) and is committed with the next items."""
        now = time.time()
        batch = self._batch
        self._real_folders, self._real_roots = {}, {}
        self._roots_intact = {}
        for kind, watch, payload in items:
            if kind == "idle?" or not self._root_intact(watch):
                continue  # a root not watched now is rescanned whole once it is watched again
            if kind == "scanned":  # looked at again: the walk may be older than the last events
                for rel, _st in payload:
                    self._gone(batch, watch, rel, now)
            elif kind == "gone":
                for rel in payload:
                    self._gone(batch, watch, rel, now)
            else:
                # a CHANGING followed by a close in the same read is settled by the close
                closing = {rel for hint, rel in payload if hint is Hint.CLOSED or hint is Hint.MOVED_IN}
                for hint, rel in payload:
                    if hint is not Hint.CHANGING or rel not in closing:
                        self._hint(batch, hint, watch, rel, now)
        self._settle_due(batch, now)
        if batch:
            self._committed_at = time.monotonic()
        self._commit(batch)
        if any(kind == "idle?" for kind, _, _ in items) and self._queue.empty():
            self._idle.set()

    def _hint(self, batch: "_Batch", hint: Hint, watch: str, rel: bytes, now: float) -> None:
        if hint is Hint.DIR_APPEARED:  # new to the tree: nothing the journal lists below it can be gone
            self.reconcile_in_background("new_folder", start=rel, only=watch, deletions=False, compare=False)
        elif hint is Hint.DIR_GONE:  # in order with the events: a folder of that name made later is newer
            batch.delete_folder(watch, rel)
        elif hint is Hint.DELETED:
            self._gone(batch, watch, rel, now)
        else:
            st = self._lstat(watch, rel)
            if st is None:
                self._forget(batch, watch, rel)  # gone (or reachable only through a symlink)
                self._check_folder(watch, rel)
            else:
                self._consider(batch, watch, rel, st, now, complete=hint in (Hint.CLOSED, Hint.MOVED_IN))

    def _gone(self, batch: "_Batch", watch: str, rel: bytes, now: float) -> None:
        """Said to be deleted, or found by a scan: whatever is there now (events and scans arrive late)."""
        if self.watches[watch].rules.ignores(rel):
            return  # an ignored name was never journaled
        st = self._lstat(watch, rel)
        if st is None:
            self._forget(batch, watch, rel)
        else:
            self._consider(batch, watch, rel, st, now, complete=False)

    def _forget(self, batch: "_Batch", watch: str, rel: bytes) -> None:
        batch.delete(watch, rel)
        self._settling.pop((watch, rel), None)
        self._held.discard((watch, rel))

    def _check_folder(self, watch: str, rel: bytes) -> None:
        """An event for a file whose folder is not there: either the folder moved since (its move
        says so), or a watch names the wrong folder. The watcher checks its table."""
        folder = os.path.dirname(rel)
        if folder and not os.path.isdir(os.path.join(self.watches[watch].root, folder)):
            self.watchers[watch].suspect(folder, f"an event for {display(rel)}, whose folder is not there")

    def _root_intact(self, watch: str | None) -> bool:
        """The watch root is the real folder being watched (per batch: one lstat per watch)."""
        if watch is None:
            return True
        if watch not in self._roots_intact:
            watcher = self.watchers.get(watch)
            self._roots_intact[watch] = watcher is None or watcher.root_intact()
        return self._roots_intact[watch]

    def _real_folder(self, watch: str, folder: bytes) -> bool:
        """No symlink between the root and ``folder``; remembered for the batch being processed."""
        key = (watch, folder)
        if key not in self._real_folders:
            root = self.watches[watch].root
            if watch not in self._real_roots:  # once per batch, not once per folder
                self._real_roots[watch] = os.path.realpath(root)
            self._real_folders[key] = os.path.realpath(os.path.join(root, folder)) == \
                os.path.join(self._real_roots[watch], folder)
        return self._real_folders[key]

    def _lstat(self, watch: str, rel: bytes) -> os.stat_result | None:
        """lstat of a path inside the tree; None when gone or when a folder on the way is a symlink
        (inotify can report paths through one; jaga never follows them)."""
        root = self.watches[watch].root
        folder = os.path.dirname(rel)
        if folder and not self._real_folder(watch, folder):
            return None
        try:
            return os.lstat(os.path.join(root, rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            log.warning("cannot stat %s: %s", display(rel), exc.strerror)
            return None

    def _consider(self, batch: "_Batch", watch: str, rel: bytes, st: os.stat_result, now: float,
                  complete: bool, settled: bool = False) -> None:
        """The one observe step: skip, record now, or wait (for a close, or for the file to settle).

        Closed after writing or renamed into place: complete. Without a close seen, a file some
        process still holds open for writing is not complete however quiet it is (a stalled sftp
        upload pauses longer than any settle window); one that nobody holds open is, at once (written
        into a folder before its watch existed, found by a scan), unless it is new and empty (its
        creator may not have opened it yet). Where that cannot be asked, the settle window decides."""
        rules = self.watches[watch].rules
        if rules.ignores(rel):
            return
        reason = skip_reason(st.st_mode)
        if reason is not None:
            self._forget(batch, watch, rel)  # whatever the journal had here as a file is gone
            if not _is_dir(st):
                batch.skips.append(SkipRecord(watch, rel, reason, _skip_detail(self.watches[watch].root, rel,
                                                                                reason), now))
            return
        key = (watch, rel)
        if not settled and TEMPORARY_NAME.search(rel):
            self._wait(key, st, now)
            return
        if complete:  # its writer closed it (or renamed it into place)
            self._record(batch, key, st, now)
            return
        if key in self._settling:
            self._wait(key, st, now)  # already waiting: a write stream extends the wait, no new probe
            return
        writer = self._held_open(watch, rel)
        if writer is True and not self._open_too_long(watch, rel, st, now):
            if key not in self._held:
                self._held.add(key)
                log.debug("%s in %s is still open for writing: not complete until it is closed", display(rel), watch)
            self._wait(key, st, now)
        elif writer is False and st.st_size == 0 and not (settled or is_settled(st, now, self.settle)):
            # a new file is empty and open by nobody in the instant between its creation and its
            # creator's open (inside open(O_CREAT)): not an upload yet; its close, or the window, says
            self._wait(key, st, now)
        elif writer is not None or settled or is_settled(st, now, self.settle):
            self._record(batch, key, st, now)
        else:
            self._wait(key, st, now)

    def _record(self, batch: "_Batch", key: tuple[str, bytes], st: os.stat_result, now: float) -> None:
        self._settling.pop(key, None)
        self._held.discard(key)
        batch.observe(Observation(*key, st.st_size, st.st_mtime_ns, now, now, st.st_ino))

    def _held_open(self, watch: str, rel: bytes) -> bool | None:
        answer, why = held_for_writing(os.path.join(self.watches[watch].root, rel))
        if answer is None and watch not in self._leases_unknown:
            self._leases_unknown.add(watch)
            log.warning("watch %s: cannot tell whether uploads are still open for writing (%s); a file "
                        "without a close is taken as complete once unchanged for %.0fs", watch, why, self.settle)
        return answer

    def _open_too_long(self, watch: str, rel: bytes, st: os.stat_result, now: float) -> bool:
        """A hung client must not hide a file forever: past the limit it is recorded as it is."""
        idle = now - max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
        if idle < self.open_file_limit:
            return False
        log.warning("%s in %s is still open for writing but unchanged for %.0fs (ingest.open_file_limit): "
                    "recorded as it is", display(rel), watch, idle)
        self.metrics.open_files_recorded.labels(watch=watch).inc()
        return True

    def _wait(self, key: tuple[str, bytes], st: os.stat_result, now: float) -> None:
        """A settle window on the monotonic clock: a change (or a first sight) starts it again."""
        signature = _signature(st)
        settling = self._settling.get(key)
        if settling is None or settling.signature != signature:
            due = time.monotonic() + self.settle
            self._settling[key] = _Settling(due, signature)
            heapq.heappush(self._deadlines, (due, *key))

    def _settle_due(self, batch: "_Batch", now: float) -> None:
        """Windows that ended (monotonic clock): a file seen unchanged through its whole window is
        settled, whatever the wall clock says (after a step back, files written before the step look
        newer than now); a changed one starts a new window."""
        mono = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= mono:
            due, watch, rel = heapq.heappop(self._deadlines)
            settling = self._settling.get((watch, rel))
            if settling is None or settling.due != due:
                continue  # superseded by a later change or already complete
            del self._settling[(watch, rel)]
            if not self._root_intact(watch):
                continue
            st = self._lstat(watch, rel)
            if st is not None:
                self._consider(batch, watch, rel, st, now, complete=False,
                               settled=_signature(st) == settling.signature)

    def _commit(self, batch: "_Batch") -> None:
        """Each part is cleared only once the journal took it."""
        if batch.skips:
            self.journal.record_skips(batch.skips)
            for skip in batch.skips:
                log.warning("skipped %s in %s: %s", display(skip.path), skip.watch, skip.detail or skip.reason)
                self.metrics.files_skipped.labels(watch=skip.watch, reason=skip.reason).inc()
            batch.skips = []
        if batch.observations or batch.deleted or batch.deleted_folders:
            created = self.journal.record_batch(list(batch.observations.values()), self.targets,
                                                list(batch.deleted), list(batch.deleted_folders), time.time())
            batch.observations, batch.deleted, batch.deleted_folders = {}, {}, {}
            for obs in created:
                self.metrics.files_ingested.labels(watch=obs.watch).inc()
                self.metrics.bytes_ingested.labels(watch=obs.watch).inc(obs.size)
            if created:
                self._on_recorded()


class _Settling(NamedTuple):
    due: float        # monotonic
    signature: tuple  # what the file looked like when the window started


def _signature(st: os.stat_result) -> tuple:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


class _Batch:
    """What one transaction will write. A path deleted and observed in one batch keeps only the last
    of the two, so the order of commit (deletions first) cannot resurrect or bury it."""

    __slots__ = ("observations", "skips", "deleted", "deleted_folders")

    def __init__(self):
        self.observations: dict[tuple[str, bytes], Observation] = {}
        self.skips: list[SkipRecord] = []
        self.deleted: dict[tuple[str, bytes], None] = {}
        self.deleted_folders: dict[tuple[str, bytes], None] = {}

    def observe(self, obs: Observation) -> None:
        self.deleted.pop((obs.watch, obs.path), None)
        self.observations[(obs.watch, obs.path)] = obs

    def delete(self, watch: str, rel: bytes) -> None:
        self.observations.pop((watch, rel), None)
        self.deleted[(watch, rel)] = None

    def delete_folder(self, watch: str, folder: bytes) -> None:
        """Everything below ``folder``; what was observed below it earlier in this batch goes too."""
        prefix = folder + b"/"
        for key in [key for key in self.observations if key[0] == watch and key[1].startswith(prefix)]:
            del self.observations[key]
        self.deleted_folders[(watch, folder)] = None

    def __bool__(self) -> bool:
        return bool(self.observations or self.skips or self.deleted or self.deleted_folders)


def _is_dir(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode)


def _has_entries(root: bytes) -> bool:
    try:
        with os.scandir(root) as entries:
            return next(entries, None) is not None
    except OSError:
        return False


def _skip_detail(root: bytes, rel: bytes, reason: str) -> str:
    if reason != "symlink":
        return f"not a regular file ({reason}); not replicated"
    try:
        target = os.readlink(os.path.join(root, rel))
    except OSError:
        return "symlink; not followed"
    return f"symlink to {display(target)}; not followed"

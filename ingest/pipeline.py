"""The ingest loop: every hint and every scan funnels into one idempotent "observe this path" step.

One thread owns the journal writes of ingest, so two hints about the same file can never race into
two versions; it drains its queue in batches and writes each batch in one short transaction.
"""

from __future__ import annotations

import heapq
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from watchdog.observers.inotify import InotifyObserver

from ingest.coverage import is_watched
from ingest.events import EventSink, Hint, LostEventsDetector
from ingest.rules import IgnoreRules, is_settled, skip_reason
from ingest.scanner import Reconciler
from journal import Journal, JournalError
from journal.records import Observation, SkipRecord, display

log = logging.getLogger("jaga.ingest")
MAX_BATCH = 2000
UNWATCHED_RESCAN = 10.0  # seconds between rescans of a folder inotify could not watch


@dataclass(frozen=True)
class WatchRoot:
    label: str
    root: bytes
    rules: IgnoreRules


class Ingest:
    """Watches the upload folders and records complete files in the journal."""

    def __init__(self, watches: list[WatchRoot], journal: Journal, targets: list[str], settle: float,
                 metrics, on_recorded: Callable[[], None]):
        self.watches = {w.label: w for w in watches}
        self.journal = journal
        self.targets = targets
        self.settle = settle
        self.metrics = metrics
        self._on_recorded = on_recorded
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._settling: dict[tuple[str, bytes], _Settling] = {}
        self._deadlines: list[tuple[float, str, bytes]] = []  # (monotonic due, watch, path)
        self._observer: InotifyObserver | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._scan_lock = threading.Lock()
        self._scans: queue.SimpleQueue = queue.SimpleQueue()
        self._scans_waiting = 0  # queued or running scans, for `jaga sync` to wait on
        self._scans_lock = threading.Lock()
        self._idle = threading.Event()
        self.last_loop_at = time.monotonic()
        self._lost = LostEventsDetector(self._events_lost)
        self._reconciler = Reconciler(journal.known_states, self._submit_scanned)
        self._batch = _Batch()
        self._real_folders: dict[tuple[str, bytes], bool] = {}
        self.unwatched: set[tuple[str, bytes]] = set()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        for name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
            logging.getLogger(name).addHandler(self._lost)
        # full events: a file moved in from outside the tree is a rename (complete at once), not a
        # "created" that would wait out the settle window
        self._observer = InotifyObserver(generate_full_events=True)
        for watch in self.watches.values():   # a missing root is a config error (jaga.preflight), never created
            self._observer.schedule(EventSink(watch.label, watch.root, self.hint), watch.root, recursive=True)
        self._observer.start()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()
        threading.Thread(target=self._scan_loop, name="reconcile", daemon=True).start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        self._queue.put(None)
        self._scans.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        for name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
            logging.getLogger(name).removeHandler(self._lost)

    # -- inputs -------------------------------------------------------------------------------

    def hint(self, hint: Hint, watch: str, rel: bytes) -> None:
        """Something may have happened to this path: look at it again."""
        self._queue.put((hint, watch, rel))

    def _events_lost(self, why: str) -> None:
        log.warning("events were lost (%s): reconciling every watch now", why)
        self.metrics.rescans.labels(reason="events_lost").inc()
        for label in self.watches:
            self._queue.put((Hint.RESCAN, label, b""))

    def _submit_scanned(self, watch: str, entries: list) -> None:
        self._queue.put(("scanned", watch, entries))

    def reconcile(self, reason: str, start: bytes = b"", only: str | None = None) -> None:
        """Walk the watches (or one folder of one) and queue what the journal lacks. Blocks."""
        with self._scan_lock:
            for watch in self.watches.values():
                if only is not None and watch.label != only:
                    continue
                began = time.monotonic()
                seen, submitted = self._reconciler.reconcile(watch.label, watch.root, watch.rules, start)
                if not start:
                    log.info("reconcile (%s) of %s: %d entries, %d to record, %.1fs", reason, watch.label,
                             seen, submitted, time.monotonic() - began)
                    self.metrics.rescans.labels(reason=reason).inc()

    def reconcile_in_background(self, reason: str, start: bytes = b"", only: str | None = None) -> None:
        with self._scans_lock:
            self._scans_waiting += 1
        self._scans.put((reason, start, only))

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
            self.last_loop_at = time.monotonic()
            items = self._take(self._wait_time() if not self._batch else 1.0)
            try:
                self._process(items)
            except JournalError as exc:
                log.error("cannot record in the journal, will retry: %s", exc)
                self.metrics.journal_errors.inc()
                self._stopping.wait(1.0)

    def _wait_time(self) -> float:
        if not self._deadlines:
            return 1.0
        return min(1.0, max(0.0, self._deadlines[0][0] - time.monotonic()))

    def _take(self, timeout: float) -> list:
        items = []
        try:
            items.append(self._queue.get(timeout=timeout))
            while len(items) < MAX_BATCH:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return [item for item in items if item is not None]

    def _process(self, items: list) -> None:
        """Fold items into the pending batch and commit it; a batch the journal refused stays pending
        (nothing observed is dropped) and is committed with the next items."""
        now = time.time()
        batch = self._batch
        self._real_folders = {}
        for kind, watch, payload in items:
            if kind == "idle?":
                continue
            if kind == "scanned":
                for rel, st in payload:
                    self._consider(batch, watch, rel, st, now, complete=False)
            else:
                self._hint(batch, kind, watch, payload, now)
        self._settle_due(batch, now)
        self._commit(batch)
        if any(kind == "idle?" for kind, _, _ in items) and self._queue.empty():
            self._idle.set()

    def _hint(self, batch: "_Batch", hint: Hint, watch: str, rel: bytes, now: float) -> None:
        if hint is Hint.RESCAN:
            self.reconcile_in_background("events_lost", only=watch)
        elif hint is Hint.DIR_APPEARED:
            self.reconcile_in_background("new_folder", start=rel, only=watch)
            self._check_watched(watch, rel)
        elif hint is Hint.DELETED:
            if not self.watches[watch].rules.ignores(rel):  # an ignored name was never journaled
                batch.deleted.append((watch, rel))
        else:
            st = self._lstat(watch, rel)
            if st is None:
                batch.deleted.append((watch, rel))  # gone (or reachable only through a symlink)
            else:
                self._consider(batch, watch, rel, st, now, complete=hint in (Hint.CLOSED, Hint.MOVED_IN))

    def _real_folder(self, watch: str, folder: bytes) -> bool:
        """No symlink between the root and ``folder``; remembered for the batch being processed."""
        key = (watch, folder)
        if key not in self._real_folders:
            real_root = os.path.realpath(self.watches[watch].root)
            self._real_folders[key] = os.path.realpath(os.path.join(self.watches[watch].root, folder)) == \
                os.path.join(real_root, folder)
        return self._real_folders[key]

    def _check_watched(self, watch: str, rel: bytes) -> None:
        """A folder inotify could not watch gets no events: rescan it until it is watched."""
        folder = os.path.join(self.watches[watch].root, rel)
        if self.watches[watch].rules.ignores(rel) or not os.path.isdir(folder):
            return
        if is_watched(self._observer, folder) is False:
            if (watch, rel) not in self.unwatched:
                log.warning("could not watch %s (inotify watch limit, fs.inotify.max_user_watches?): its files "
                            "are found by rescans every %.0fs until it is watched", display(folder),
                            UNWATCHED_RESCAN)
                self.metrics.watch_failures.inc()
            self.unwatched.add((watch, rel))

    def rescan_unwatched(self) -> None:
        """Scheduled: reconcile every folder whose watch failed (a cheap walk of just those folders)."""
        for watch, rel in sorted(self.unwatched):
            self.reconcile_in_background("unwatched_folder", start=rel, only=watch)

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
                  complete: bool) -> None:
        """The one observe step: skip, record now, or wait for the file to settle."""
        rules = self.watches[watch].rules
        if rules.ignores(rel):
            return
        reason = skip_reason(st.st_mode)
        if reason is not None:
            if not _is_dir(st):
                batch.skips.append(SkipRecord(watch, rel, reason, _skip_detail(self.watches[watch].root, rel,
                                                                                reason), now))
            return
        key, signature = (watch, rel), _signature(st)
        if complete or is_settled(st, now, self.settle):
            self._settling.pop(key, None)
            batch.observations.append(Observation(watch, rel, st.st_size, st.st_mtime_ns, now, now, st.st_ino))
        elif key not in self._settling or self._settling[key].signature != signature:
            due = time.monotonic() + self.settle  # a change (or a first sight) starts the window again
            self._settling[key] = _Settling(due, signature)
            heapq.heappush(self._deadlines, (due, watch, rel))

    def _settle_due(self, batch: "_Batch", now: float) -> None:
        """Windows that ended (monotonic clock): a file seen unchanged through its whole window is
        complete, whatever the wall clock says (after a step back, files written before the step
        look newer than now); a changed one starts a new window."""
        mono = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= mono:
            due, watch, rel = heapq.heappop(self._deadlines)
            settling = self._settling.get((watch, rel))
            if settling is None or settling.due != due:
                continue  # superseded by a later change or already complete
            del self._settling[(watch, rel)]
            st = self._lstat(watch, rel)
            if st is not None:
                unchanged = _signature(st) == settling.signature
                self._consider(batch, watch, rel, st, now, complete=unchanged)

    def _commit(self, batch: "_Batch") -> None:
        """Each part is cleared only once the journal took it."""
        if batch.skips:
            self.journal.record_skips(batch.skips)
            for skip in batch.skips:
                log.warning("skipped %s in %s: %s", display(skip.path), skip.watch, skip.detail or skip.reason)
                self.metrics.files_skipped.labels(watch=skip.watch, reason=skip.reason).inc()
            batch.skips = []
        if batch.deleted:
            self.journal.mark_deleted(batch.deleted, time.time())
            batch.deleted = []
        if batch.observations:
            created = self.journal.record_versions(batch.observations, self.targets)
            batch.observations = []
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
    __slots__ = ("observations", "skips", "deleted")

    def __init__(self):
        self.observations: list[Observation] = []
        self.skips: list[SkipRecord] = []
        self.deleted: list[tuple[str, bytes]] = []

    def __bool__(self) -> bool:
        return bool(self.observations or self.skips or self.deleted)


def _is_dir(st: os.stat_result) -> bool:
    return stat.S_ISDIR(st.st_mode)


def _skip_detail(root: bytes, rel: bytes, reason: str) -> str:
    if reason != "symlink":
        return f"not a regular file ({reason}); not replicated"
    try:
        target = os.readlink(os.path.join(root, rel))
    except OSError:
        return "symlink; not followed"
    return f"symlink to {display(target)}; not followed"

"""Turn watchdog's events into jaga's few kinds of hint, relative to a watch root, as bytes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from enum import Enum

from watchdog.events import (DirCreatedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent, FileDeletedEvent,
                             FileModifiedEvent, FileMovedEvent, FileSystemEvent, FileSystemEventHandler)


class Hint(Enum):
    CLOSED = "closed"          # closed after writing: complete now
    MOVED_IN = "moved_in"      # renamed into place inside the tree: complete now
    CHANGING = "changing"      # created or modified, no close yet: complete once settled
    DIR_APPEARED = "dir"       # a folder created or moved in: its files may predate its watch
    DELETED = "deleted"        # gone from the primary; replicas stay
    RESCAN = "rescan"          # events were lost: reconcile the whole watch


class EventSink(FileSystemEventHandler):
    """watchdog handler for one watch root. Reads by jaga itself only give open/close-nowrite events,
    which are ignored here, so the daemon's own copies never come back to it as work."""

    def __init__(self, watch: str, root: bytes, emit: Callable[[Hint, str, bytes], None]):
        self.watch = watch
        self.root = root
        self._prefix = root.rstrip(b"/") + b"/"
        self._emit = emit

    def _rel(self, path: bytes | str) -> bytes | None:
        path = os.fsencode(path)
        return path[len(self._prefix):] if path.startswith(self._prefix) else None

    def _send(self, hint: Hint, path: bytes | str) -> None:
        rel = self._rel(path)
        if rel:
            self._emit(hint, self.watch, rel)

    def dispatch(self, event: FileSystemEvent) -> None:
        kind = type(event)
        if kind is FileClosedEvent:
            self._send(Hint.CLOSED, event.src_path)
        elif kind is FileModifiedEvent or kind is FileCreatedEvent:
            self._send(Hint.CHANGING, event.src_path)
        elif kind is FileMovedEvent:
            self._send(Hint.DELETED, event.src_path)
            self._send(Hint.MOVED_IN, event.dest_path)
        elif kind is DirCreatedEvent:
            self._send(Hint.DIR_APPEARED, event.src_path)
        elif kind is DirMovedEvent:
            self._send(Hint.DIR_APPEARED, event.dest_path)
        elif kind is FileDeletedEvent:
            self._send(Hint.DELETED, event.src_path)


class LostEventsDetector(logging.Handler):
    """watchdog only logs an inotify queue overflow (and drops what was queued): turn it into a rescan."""

    MARKERS = ("overflowed", "Unable to rebuild")

    def __init__(self, on_lost: Callable[[str], None]):
        super().__init__(level=logging.WARNING)
        self._on_lost = on_lost

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS):
            self._on_lost(message)

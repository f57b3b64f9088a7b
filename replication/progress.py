"""Progress for long operations: a rich bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time

from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)


class Reporter:
    def __init__(self, description: str, total_bytes: int, logger: logging.Logger, interval: float = 5.0,
                 force_bar: bool | None = None):
        self.description = description
        self.total = total_bytes
        self.done = 0
        self.files = 0
        self._log = logger
        self._interval = interval
        self._last_log = time.monotonic()
        self._started = time.monotonic()
        use_bar = sys.stderr.isatty() if force_bar is None else force_bar
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                             TransferSpeedColumn(), TimeRemainingColumn(), transient=False) if use_bar else None
        self._task = None

    def __enter__(self) -> "Reporter":
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def advance(self, nbytes: int, files: int = 1) -> None:
        self.done += nbytes
        self.files += files
        if self._bar is not None:
            self._bar.update(self._task, advance=nbytes)
        elif time.monotonic() - self._last_log >= self._interval:
            self._last_log = time.monotonic()
            elapsed = max(1e-6, self._last_log - self._started)
            rate = self.done / elapsed
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            self._log.info("%s: %d files, %.1f of %.1f MB (%.1f MB/s, about %.0fs left)", self.description,
                           self.files, self.done / 1e6, self.total / 1e6, rate / 1e6, left)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

"""A token bucket: ``bandwidth`` of the SFTP and S3 targets (shared by every transfer of one target),
and the scrub's read rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator


class Throttle:
    """Sleep just enough that the bytes passed through stay under ``rate`` bytes per second.

    A burst of one second's worth is allowed, so small files do not wait at all on an idle link.
    ``rate`` None means no limit (and no locking).
    """

    def __init__(self, rate: int | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(rate or 0)
        self._stamp = clock()

    def take(self, nbytes: int) -> None:
        """Account for ``nbytes`` about to be sent or just received, sleeping if over budget."""
        if not self.rate or nbytes <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.rate), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= nbytes
            debt = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if debt > 0:
            self._sleep(debt)

    def chunks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` through, throttled."""
        for chunk in chunks:
            self.take(len(chunk))
            yield chunk

"""Signals for the main loop, delivered as bytes on a socket pair.

A Python signal handler runs between two bytecodes of the main thread, so it must not take a lock: one
that calls ``threading.Event.set`` deadlocks when a second signal arrives while the first handler holds
the event's lock (``make run`` stopped with a process-group kill gets two SIGTERMs at once, make passes
its own on). Here a handler only adds the signal's number to a set (no lock), and Python's C-level
handler wakes the main loop through the wakeup socket. The socket's bytes only wake: a burst of
signals fills it (each one-byte send costs a whole buffer slot) and the rest are dropped, so what
arrived is read from the set.
"""

from __future__ import annotations

import select
import signal
import socket


class SignalInbox:
    """Collects SIGTERM/SIGINT/SIGHUP for a loop that waits on ``wait()``; ``poke()`` wakes it from
    another thread. Install and close it from the main thread."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)):
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._signals = signals
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self._arrived: set[int] = set()

    def install(self) -> "SignalInbox":
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for number in self._signals:
            self._previous[number] = signal.signal(number, self._note)
        return self

    def _note(self, number: int, _frame) -> None:
        """The handler: a set's add takes no lock, so a signal landing inside this one is harmless."""
        self._arrived.add(number)

    def __enter__(self) -> "SignalInbox":
        return self.install()

    def __exit__(self, *_exc) -> None:
        self.close()

    def wait(self, timeout: float) -> set[int]:
        """The signal numbers that arrived since the last call, waiting up to ``timeout`` s for one."""
        if not self._arrived:
            select.select([self._reader], [], [], timeout)
        self._drain()
        arrived, self._arrived = self._arrived, set()  # a handler between the two adds to `arrived`
        return arrived

    def _drain(self) -> None:
        while True:
            try:
                if not self._reader.recv(4096):
                    return
            except (BlockingIOError, InterruptedError):
                return

    def poke(self) -> None:
        """Wake ``wait()`` from another thread; harmless once the inbox is closed."""
        try:
            self._writer.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the buffer is full: the loop wakes anyway

    def close(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()

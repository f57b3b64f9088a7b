"""Pipelined SFTP I/O on a raw handle: requests keep flowing while earlier answers are on their way,
so a file costs a round trip or two instead of one per request, and every answer is checked.

A window of bytes in flight bounds the memory (and the server's queue); when it is full, the older
half of the answers is collected.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from paramiko.sftp import CMD_DATA, CMD_READ, CMD_WRITE, int64

from replication.sftp.client import ExtSFTPClient

WINDOW = 8 << 20   # bytes of requests in flight on one channel


class Pipeline:
    """Requests on one channel, answered in order; ``on_answer(kind, msg)`` runs as each is collected."""

    def __init__(self, sftp: ExtSFTPClient, window: int = WINDOW):
        self.sftp = sftp
        self.window = window
        self._pending: deque[tuple[int, int, Callable | None]] = deque()
        self._in_flight = 0

    def send(self, kind: int, *args, cost: int = 0, on_answer: Callable | None = None) -> None:
        self._pending.append((self.sftp.send(kind, *args), cost, on_answer))
        self._in_flight += cost
        if self._in_flight >= self.window:
            self._collect(self.window // 2)

    def drain(self) -> None:
        """Wait for every answer; the first error status raises (after all are in)."""
        self._collect(0)

    def _collect(self, down_to: int) -> None:
        batch = []
        while self._pending and (self._in_flight > down_to or down_to == 0):
            number, cost, on_answer = self._pending.popleft()
            self._in_flight -= cost
            batch.append((number, on_answer))
        try:
            answers = self.sftp.gather([number for number, _ in batch])
        except BaseException:
            self._abandon()
            raise
        for (_number, on_answer), (kind, msg) in zip(batch, answers):
            if on_answer is not None:
                on_answer(kind, msg)

    def _abandon(self) -> None:
        """After an error: collect what is still outstanding so the channel stays usable."""
        numbers = [number for number, _cost, _cb in self._pending]
        self._pending.clear()
        self._in_flight = 0
        if numbers:
            try:
                self.sftp.gather(numbers, eof_ok=True)
            except OSError:
                pass


def pieces(chunk: bytes, size: int) -> Iterator[bytes]:
    if len(chunk) <= size:
        yield chunk
        return
    for start in range(0, len(chunk), size):
        yield chunk[start:start + size]


def write_all(pipe: Pipeline, handle: bytes, chunks: Iterable[bytes]) -> tuple[int, "hashlib._Hash"]:
    """Send ``chunks`` as pipelined writes from offset 0; (bytes sent, their SHA-256)."""
    io_size = pipe.sftp.io_size()
    digest, offset = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        for piece in pieces(chunk, io_size):
            pipe.send(CMD_WRITE, handle, int64(offset), piece, cost=len(piece))
            offset += len(piece)
    return offset, digest


class ReadBack:
    """Pipelined reads of ``size`` bytes from offset 0, hashed in order as they are collected; ``short``
    when the server answered with fewer bytes than asked (allowed by SFTP: the hash is then unproven)."""

    def __init__(self, pipe: Pipeline, handle: bytes, size: int, on_bytes: Callable[[int], None]):
        self.digest = hashlib.sha256()
        self.short = False
        self._on_bytes = on_bytes
        io_size = pipe.sftp.io_size()
        for offset in range(0, size, io_size):
            length = min(io_size, size - offset)
            pipe.send(CMD_READ, handle, int64(offset), length, cost=length,
                      on_answer=lambda kind, msg, length=length: self._answer(kind, msg, length))

    def _answer(self, kind: int, msg, length: int) -> None:
        data = msg.get_string() if kind == CMD_DATA and msg is not None else b""
        self.short = self.short or len(data) != length
        self._on_bytes(len(data))
        self.digest.update(data)


def read_stream(sftp: ExtSFTPClient, handle: bytes, size: int, on_bytes: Callable[[int], None],
                window: int = WINDOW) -> Iterator[bytes]:
    """The bytes of an open file in order, ``window`` bytes of reads in flight; reads on past ``size``
    until the server says end of file (a file that grew since its stat is read whole)."""
    io_size = sftp.io_size()
    in_flight: deque[tuple[int, int, int]] = deque()   # (request, offset, length)
    offset = 0
    try:
        while True:
            while offset < size and len(in_flight) * io_size < window:
                length = min(io_size, size - offset)
                in_flight.append((sftp.send(CMD_READ, handle, int64(offset), length), offset, length))
                offset += length
            if not in_flight:   # past the stat's size: one more read, normally answered "end of file"
                in_flight.append((sftp.send(CMD_READ, handle, int64(offset), io_size), offset, io_size))
                offset += io_size
            number, start, length = in_flight.popleft()
            ((kind, msg),) = sftp.gather([number], eof_ok=True)
            data = msg.get_string() if kind == CMD_DATA and msg is not None else b""
            if not data:
                return
            if len(data) < length:   # SFTP allows short reads: ask again from where this one ended
                _settle(sftp, in_flight)
                offset = start + len(data)
            on_bytes(len(data))
            yield data
    finally:
        _settle(sftp, in_flight)


def _settle(sftp: ExtSFTPClient, in_flight: deque) -> None:
    """Collect the answers still due so the channel is in step for its next user."""
    numbers = [entry[0] for entry in in_flight]
    in_flight.clear()
    if numbers:
        try:
            sftp.gather(numbers, eof_ok=True)
        except Exception:  # the link or the file failed; the caller's own error says which
            pass

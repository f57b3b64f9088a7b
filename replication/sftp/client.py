"""An SFTPClient that remembers the server's protocol extensions and speaks the OpenSSH ones jaga needs.

paramiko discards the extension list the server sends in its VERSION packet, so "fsync when the
server offers it" would otherwise mean "try it and parse the error".

``send`` and ``gather`` pipeline requests on raw handles: many requests go out before the first answer
is read, and every answer is checked (paramiko's own pipelined writes drop the statuses they do not
wait for, so a failed write would go unnoticed).
"""

from __future__ import annotations

import struct

from paramiko.message import Message
from paramiko.sftp import (CMD_CLOSE, CMD_EXTENDED, CMD_EXTENDED_REPLY, CMD_HANDLE, CMD_INIT, CMD_NAME, CMD_OPEN,
                           CMD_OPENDIR, CMD_READDIR, CMD_STATUS, CMD_VERSION, SFTPError)
from paramiko.ssh_exception import SSHException
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_client import SFTPClient
from paramiko.sftp_file import SFTPFile

SFTP_VERSION = 3
FSYNC = "fsync@openssh.com"
HARDLINK = "hardlink@openssh.com"
POSIX_RENAME = "posix-rename@openssh.com"
LIMITS = "limits@openssh.com"
DEFAULT_IO = 32 * 1024      # what every SFTP server must accept in one read or write
LARGEST_IO = 255 * 1024     # OpenSSH's sftp-server takes up to 256 KiB messages


class ExtSFTPClient(SFTPClient):
    """SFTPClient plus ``extensions`` (name -> version) and fsync/hardlink requests."""

    extensions: dict[str, bytes]
    _io_size: int | None = None

    def __init__(self, sock):
        self._sent: set[int] = set()       # requests from send() not gathered yet
        self._early: dict[int, tuple] = {}  # their answers, read while gathering earlier ones
        super().__init__(sock)

    def _send_version(self):
        msg = Message()
        msg.add_int(SFTP_VERSION)
        self._send_packet(CMD_INIT, msg)
        kind, data = self._read_packet()
        if kind != CMD_VERSION:
            raise SFTPError("Incompatible sftp protocol")
        version = struct.unpack(">I", data[:4])[0]
        self.extensions = _parse_extensions(data[4:])
        return version

    def offers(self, extension: str) -> bool:
        return extension in self.extensions

    def fsync(self, handle: SFTPFile) -> None:
        """Ask the server to fsync the open file (its data and its inode) before we rename it."""
        handle.flush()
        self._finish_responses(handle)  # surface errors of pipelined writes first
        self._request(CMD_EXTENDED, FSYNC, handle.handle)

    def listdir_bytes(self, path: bytes) -> list[tuple[bytes, SFTPAttributes]]:
        """(name, attributes) of a folder's entries with names kept as bytes: paramiko's own
        listdir decodes them as strict UTF-8 and fails on the first other name."""
        kind, msg = self._request(CMD_OPENDIR, self._adjust_cwd(path))
        if kind != CMD_HANDLE:
            raise SFTPError("Expected handle")
        handle = msg.get_binary()
        entries: list[tuple[bytes, SFTPAttributes]] = []
        try:
            while True:
                try:
                    kind, msg = self._request(CMD_READDIR, handle)
                except EOFError:
                    break
                if kind != CMD_NAME:
                    raise SFTPError("Expected name response")
                for _ in range(msg.get_int()):
                    name = msg.get_string()
                    msg.get_string()  # the "ls -l" long name
                    attrs = SFTPAttributes._from_msg(msg)
                    if name not in (b".", b".."):
                        entries.append((name, attrs))
        finally:
            self._request(CMD_CLOSE, handle)
        return entries

    def io_size(self) -> int:
        """Bytes per read or write request: what the server's limits@openssh.com allows (asked once
        per channel), else the 32 KiB every server takes."""
        if self._io_size is None:
            size = DEFAULT_IO
            if self.offers(LIMITS):
                kind, msg = self._request(CMD_EXTENDED, LIMITS)
                if kind == CMD_EXTENDED_REPLY:
                    _packet, most_read, most_write = msg.get_int64(), msg.get_int64(), msg.get_int64()
                    size = max(DEFAULT_IO, min(LARGEST_IO, most_read or DEFAULT_IO, most_write or DEFAULT_IO))
            self._io_size = size
        return self._io_size

    def open_handle(self, path: bytes, flags: int) -> bytes:
        """SSH_FXP_OPEN with SFTP_FLAG_* ``flags``; the raw handle (close it with CMD_CLOSE)."""
        kind, msg = self._request(CMD_OPEN, self._adjust_cwd(path), flags, SFTPAttributes())
        if kind != CMD_HANDLE:
            raise SFTPError("Expected handle")
        return msg.get_binary()

    def send(self, kind: int, *args) -> int:
        """Send one request without waiting for its answer; collect it with gather()."""
        number = self._async_request(type(None), kind, *args)
        self._sent.add(number)
        return number

    def gather(self, numbers: list[int], eof_ok: bool = False) -> list[tuple[int, Message | None]]:
        """The answers to ``numbers`` (from send), in that order; answers to later requests read on the
        way are kept for their own gather. An error status raises, but only once every answer in
        ``numbers`` is in, so the channel stays in step. ``eof_ok``: an end-of-file status is an
        answer, (CMD_STATUS, None), not an error."""
        answers = {number: self._early.pop(number) for number in numbers if number in self._early}
        waiting = set(numbers) - set(answers)
        while waiting:
            try:
                kind, data = self._read_packet()
            except EOFError as exc:
                raise SSHException(f"Server connection dropped: {exc}") from exc
            msg = Message(data)
            number = msg.get_int()
            with self._lock:
                owner = self._expecting.pop(number, None)
            if number in waiting:
                waiting.discard(number)
                answers[number] = (kind, msg)
            elif number in self._sent:
                self._early[number] = (kind, msg)
            elif owner is not None and owner is not type(None):
                owner._async_response(kind, msg, number)
        self._sent.difference_update(numbers)
        failure, out = None, []
        for number in numbers:
            kind, msg = answers[number]
            if kind == CMD_STATUS:
                try:
                    self._convert_status(msg)
                except EOFError:
                    if not eof_ok:   # a short file: an answer, not a lost link
                        failure = failure or OSError("unexpected end of file")
                    msg = None
                except OSError as exc:
                    failure = failure or exc
            out.append((kind, msg))
        if failure is not None:
            raise failure
        return out

    def hardlink(self, oldpath: bytes, newpath: bytes) -> None:
        self._request(CMD_EXTENDED, HARDLINK, self._adjust_cwd(oldpath), self._adjust_cwd(newpath))


def _parse_extensions(data: bytes) -> dict[str, bytes]:
    """Pairs of SSH strings (name, data) after the version number."""
    found: dict[str, bytes] = {}
    msg = Message(data)
    try:
        while msg.get_remainder():
            name = msg.get_string().decode("ascii", "replace")
            found[name] = msg.get_string()
    except Exception:  # a malformed list: keep what parsed; unknown means "not offered"
        pass
    return found

"""An SFTPClient that remembers the server's protocol extensions and speaks the OpenSSH ones jaga needs.

paramiko discards the extension list the server sends in its VERSION packet, so "fsync when the
server offers it" would otherwise mean "try it and parse the error".
"""

from __future__ import annotations

import struct

from paramiko.message import Message
from paramiko.sftp import (CMD_CLOSE, CMD_EXTENDED, CMD_HANDLE, CMD_INIT, CMD_NAME, CMD_OPENDIR,
                           CMD_READDIR, CMD_VERSION, SFTPError)
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_client import SFTPClient
from paramiko.sftp_file import SFTPFile

SFTP_VERSION = 3
FSYNC = "fsync@openssh.com"
HARDLINK = "hardlink@openssh.com"
POSIX_RENAME = "posix-rename@openssh.com"


class ExtSFTPClient(SFTPClient):
    """SFTPClient plus ``extensions`` (name -> version) and fsync/hardlink requests."""

    extensions: dict[str, bytes]

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

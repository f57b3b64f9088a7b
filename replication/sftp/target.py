"""SftpTarget: upload to a temporary name beside the final one, fsync@openssh.com, read it back through
the same handle, posix-rename.

A put is three waves of pipelined requests (open; writes, mtime, fsync and the read-back; close and
rename), not a round trip per request. The remote tree is walked one folder at a time with lstat,
and a symlink met on the way is refused, so a link planted in the replica tree cannot send a write
outside the root; folders found sound are remembered until the next flush() (one batch).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import stat
import threading
import time
from collections.abc import Collection, Iterable, Iterator

from paramiko.sftp import (CMD_CLOSE, CMD_EXTENDED, CMD_FSETSTAT, SFTP_FLAG_CREATE, SFTP_FLAG_EXCL, SFTP_FLAG_READ,
                           SFTP_FLAG_WRITE)
from paramiko.sftp_attr import SFTPAttributes

from replication.sftp.client import FSYNC, HARDLINK, POSIX_RENAME, ExtSFTPClient
from replication.sftp.config import SftpTargetConfig
from replication.sftp.connection import LinkLost, SshSessions
from replication.sftp.pipeline import Pipeline, ReadBack, read_stream, write_all
from replication.throttle import Throttle
from replication.target import (MARKER_NAME, META_DIR, TEMP_PREFIX, ManifestEntry, Marker, Target,
                                TargetDown, TargetError, check_key, conflict_key, is_leftover, temp_name,
                                version_key)

log = logging.getLogger(__name__)

NEW_FILE = SFTP_FLAG_READ | SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL
MANIFEST = META_DIR + b"/manifest.jsonl"
MARKER = MARKER_NAME.encode()
SHA256_LINE = re.compile(rb"^([0-9a-f]{64})\b")


class SftpTarget(Target):
    """A folder on an SSH server, reached with a key and a pinned host key."""

    def __init__(self, config: SftpTargetConfig):
        if not config.path or not config.path.strip("/"):
            raise ValueError(f"target {config.name}: the remote path must name a folder, not '/' or ''")
        self.name = config.name
        self.config = config
        self.root = config.path.rstrip("/").encode("utf-8", "surrogateescape")
        self.sessions = SshSessions(config)
        self.throttle = Throttle(config.bandwidth)
        self._manifest_lock = threading.Lock()
        self._manifest_ends_clean = False
        self._warned_no_fsync = False
        self._sound_dirs: set[bytes] = set()  # folders checked (real folders, no symlink) this batch

    # -- marker -------------------------------------------------------------------------------

    def read_marker(self) -> Marker | None:
        """A connection that died while idle (server restarted, NAT timeout) gets one fresh try."""
        try:
            return self._read_marker()
        except LinkLost:
            return self._read_marker()

    def _read_marker(self) -> Marker | None:
        try:
            data = b"".join(self._read(MARKER, "reading the marker"))
        except FileNotFoundError:
            return None
        except TargetError as exc:
            raise TargetDown(str(exc)) from exc
        return Marker.from_bytes(data)

    def write_marker(self, marker: Marker) -> None:
        with self.sessions.sftp(f"initialising {self._show(b'')}") as sftp:
            self._make_root(sftp)
            self._store(sftp, b"", [marker.to_bytes()], None, MARKER)
        self.expect_marker(marker.marker_id)

    # -- data ---------------------------------------------------------------------------------

    def put(self, key: bytes, chunks: Iterable[bytes], mtime_ns: int, keep_previous_as: bytes | None
            ) -> bool | None:
        key = check_key(key)
        self.require_proven()
        folder, _name = _split(key)
        keep = _check_version_key(keep_previous_as) if keep_previous_as is not None else None
        with self.sessions.sftp(f"writing a replica to {self.sessions.where}", path=key) as sftp:
            self._ensure_dir(sftp, folder)
            before_rename = (lambda temp: self._keep_previous(sftp, key, keep, temp)) if keep is not None else None
            return self._store(sftp, folder, self.throttle.chunks(chunks), mtime_ns, key, before_rename)

    def flush(self) -> None:
        """Each put is durable by itself (fsync@openssh.com before its rename); a new batch checks its
        folders afresh."""
        self._sound_dirs = set()

    def _store(self, sftp: ExtSFTPClient, folder: bytes, chunks: Iterable[bytes], mtime_ns: int | None,
               key: bytes, before_rename=None) -> bool | None:
        """A new temporary file in ``folder``: written, fsynced and read back through one handle, then
        renamed to ``key``. True when the bytes read back are those sent; None when the server's
        answers were too short to tell (checksum() decides then); bytes that differ raise before the
        rename, so the final name never holds them."""
        temp = self._path(_join(folder, temp_name(self.temp_tag)))
        if not sftp.offers(POSIX_RENAME):
            raise TargetError(f"{self.sessions.where} does not offer {POSIX_RENAME}: no atomic replace")
        try:
            handle = sftp.open_handle(temp, NEW_FILE)
        except FileNotFoundError:
            raise self._missing_root(sftp) from None
        is_open = True
        try:
            pipe = Pipeline(sftp)
            size, sent = write_all(pipe, handle, chunks)
            if mtime_ns is not None:
                times = SFTPAttributes()
                times.st_atime = times.st_mtime = mtime_ns // 1_000_000_000  # SFTP v3 keeps whole seconds
                pipe.send(CMD_FSETSTAT, handle, times)
            self._send_fsync(pipe, handle)
            back = ReadBack(pipe, handle, size, self.throttle.take)
            pipe.drain()
            if not back.short and back.digest.digest() != sent.digest():
                raise TargetError("the bytes read back from the server differ from those sent", path=key)
            if before_rename is not None:
                before_rename(temp)
            pipe.send(CMD_CLOSE, handle)
            is_open = False
            pipe.send(CMD_EXTENDED, POSIX_RENAME, temp, self._path(key))
            pipe.drain()
        except BaseException:
            if is_open:
                _close_quietly(sftp, handle)
            _remove_quietly(sftp, temp)
            raise
        return None if back.short else True

    def _send_fsync(self, pipe: Pipeline, handle: bytes) -> None:
        if pipe.sftp.offers(FSYNC):
            pipe.send(CMD_EXTENDED, FSYNC, handle)
        elif not self._warned_no_fsync:
            self._warned_no_fsync = True
            log.warning("target %s: the server does not offer %s; replicas are not fsynced", self.name, FSYNC)

    def _fsync(self, sftp: ExtSFTPClient, handle) -> None:
        if sftp.offers(FSYNC):
            sftp.fsync(handle)
            return
        handle.flush()
        if not self._warned_no_fsync:
            self._warned_no_fsync = True
            log.warning("target %s: the server does not offer %s; replicas are not fsynced", self.name, FSYNC)

    def _rename(self, sftp: ExtSFTPClient, temp: bytes, final: bytes) -> None:
        if not sftp.offers(POSIX_RENAME):
            raise TargetError(f"{self.sessions.where} does not offer {POSIX_RENAME}: no atomic replace")
        sftp.posix_rename(temp, final)

    def _keep_previous(self, sftp: ExtSFTPClient, key: bytes, keep_as: bytes, temp: bytes) -> None:
        """Hard-link the current replica into the versions area (rename it when links are not offered)
        before ``temp`` replaces it. A name there holding other bytes is never replaced: the current
        bytes are kept beside it."""
        current = self._path(key)
        if _lstat(sftp, current) is None:
            return
        folder, _name = _split(keep_as)
        self._ensure_dir(sftp, folder)
        kept = self._path(keep_as)
        if _lstat(sftp, kept) is not None:
            if _same_bytes(sftp, current, kept, key) or _same_bytes(sftp, current, temp, key):
                return  # kept already, or a copy of this very version done again
            aside = conflict_key(keep_as, time.time_ns())
            log.warning("target %s: %s already holds other bytes (an earlier history of %s, e.g. from before "
                        "the journal was rebuilt); the bytes being replaced are kept as %s", self.name,
                        self._show(keep_as), self._show(key), self._show(aside))
            kept = self._path(aside)
        if sftp.offers(HARDLINK):
            sftp.hardlink(current, kept)
        else:
            self._rename(sftp, current, kept)

    def checksum(self, key: bytes) -> str | None:
        key = check_key(key)
        if self.config.remote_sha256:
            return self._remote_sha256(key)
        digest = hashlib.sha256()
        try:
            for chunk in self._read(key, "reading back a replica"):
                digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def _remote_sha256(self, key: bytes) -> str | None:
        what = "hashing a replica on the server"
        with self.sessions.sftp(what, path=key) as sftp:
            if _regular(sftp, self._path(key), key) is None:
                return None
        quoted = shlex.quote(self._path(key).decode("utf-8", "surrogateescape"))
        status, out, err = self.sessions.exec(b"sha256sum -- " + quoted.encode("utf-8", "surrogateescape"), what,
                                              path=key)
        found = SHA256_LINE.match(out)
        if status != 0 or not found:   # sha256sum's complaint names the file: the log gets it, not the reason
            log.warning("target %s: sha256sum of %s said: %s", self.name, self._show(key),
                        err.decode(errors="replace").strip())
            raise TargetError(f"{what}: sha256sum exited {status}", path=key)
        return found.group(1).decode()

    def open_read(self, key: bytes) -> Iterator[bytes]:
        key = check_key(key)
        return self._read(key, "reading a replica")

    def open_version(self, key: bytes, version: int) -> Iterator[bytes]:
        key = check_key(key)
        return self._read(version_key(key, version), f"reading version {version} of a replica")

    def _read(self, key: bytes, what: str) -> Iterator[bytes]:
        with self.sessions.sftp(what, path=key) as sftp:
            path = self._path(key)
            size = _regular(sftp, path, key)
            if size is None:
                raise FileNotFoundError(f"{self._show(key)} is not on {self.name}")
            handle = sftp.open_handle(path, SFTP_FLAG_READ)
            try:
                yield from read_stream(sftp, handle, size, self.throttle.take)
            finally:
                _close_quietly(sftp, handle)

    def list_keys(self) -> Iterator[bytes]:
        with self.sessions.sftp("listing the replica") as sftp:
            for rel, _attrs in self._walk(sftp, skip_meta=True):
                name = rel.rpartition(b"/")[2]
                if not name.startswith(TEMP_PREFIX) and rel != MARKER:
                    yield rel

    # -- manifest and housekeeping ------------------------------------------------------------

    def append_manifest(self, entries: list[ManifestEntry]) -> None:
        if not entries:
            return
        self.require_proven()
        data = "".join(entry.to_json() + "\n" for entry in entries).encode()
        with self._manifest_lock, self.sessions.sftp("appending to the manifest") as sftp:
            self._ensure_dir(sftp, META_DIR)
            path = self._path(MANIFEST)
            if not self._manifest_ends_clean and not _ends_with_newline(sftp, path):
                data = b"\n" + data  # a torn line from a cut link must not swallow our first entry
            self._manifest_ends_clean = False
            with sftp.open(path, "ab") as handle:
                handle.write(data)
                self._fsync(sftp, handle)
            self._manifest_ends_clean = True

    def read_manifest(self) -> Iterator[ManifestEntry]:
        try:
            data = b"".join(self._read(MANIFEST, "reading the manifest"))
        except FileNotFoundError:
            return
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            if line.strip():
                try:
                    yield ManifestEntry.from_json(line)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("target %s: manifest line %d skipped: %s", self.name, number, exc)

    def remove_temporaries(self, keep: Collection[str] = ()) -> int:
        self.require_proven()
        removed = 0
        with self.sessions.sftp("removing temporaries") as sftp:
            for rel, _attrs in self._walk(sftp, skip_meta=False):
                if is_leftover(rel.rpartition(b"/")[2], keep):
                    sftp.remove(self._path(rel))
                    removed += 1
        return removed

    def close(self) -> None:
        self.sessions.close()

    # -- helpers ------------------------------------------------------------------------------

    def _path(self, rel: bytes) -> bytes:
        return self.root + b"/" + rel if rel else self.root

    def _show(self, rel: bytes) -> str:
        return f"{self.sessions.where}:{self._path(rel).decode('utf-8', 'backslashreplace')}"

    def _make_root(self, sftp: ExtSFTPClient) -> None:
        """``mkdir -p`` the root itself (only write_marker creates it)."""
        path = b"/" if self.root.startswith(b"/") else b""
        for part in self.root.split(b"/"):
            if part:
                path = path + part if path in (b"", b"/") else path + b"/" + part
                if _lstat(sftp, path) is None:
                    _mkdir(sftp, path)

    def _ensure_dir(self, sftp: ExtSFTPClient, folder: bytes) -> None:
        """Create ``folder`` under the root one component at a time, refusing symlinks and files; a
        folder already found sound in this batch is not asked about again."""
        rel = b""
        sound = self._sound_dirs
        for part in folder.split(b"/") if folder else []:
            rel = _join(rel, part)
            if rel in sound:
                continue
            attrs = _lstat(sftp, self._path(rel))
            if attrs is None:
                try:
                    _mkdir(sftp, self._path(rel))
                except FileNotFoundError:
                    raise self._missing_root(sftp) from None
                attrs = _lstat(sftp, self._path(rel))
            if attrs is None or stat.S_ISLNK(attrs.st_mode):
                raise TargetError("a symlink in the replica tree (refused: never written through)", path=rel)
            if not stat.S_ISDIR(attrs.st_mode):
                raise TargetError("a file in the replica tree stands where a folder must go", path=rel)
            sound.add(rel)

    def _missing_root(self, sftp: ExtSFTPClient) -> Exception:
        self._sound_dirs = set()
        if _lstat(sftp, self.root) is None:
            return TargetDown(f"target root {self._show(b'')} does not exist")
        return TargetError(f"{self._show(b'')}: a folder vanished while writing")

    def _walk(self, sftp: ExtSFTPClient, skip_meta: bool) -> Iterator[tuple[bytes, object]]:
        """(relative path, attributes) of every non-folder below the root; symlinked folders not followed."""
        pending = [b""]
        while pending:
            rel = pending.pop()
            try:
                entries = sftp.listdir_bytes(self._path(rel))
            except FileNotFoundError:
                continue
            for name, attrs in sorted(entries):
                child = _join(rel, name)
                if stat.S_ISDIR(attrs.st_mode or 0):
                    if not (skip_meta and child == META_DIR):
                        pending.append(child)
                else:
                    yield child, attrs


def _check_version_key(keep_as: bytes) -> bytes:
    """keep_previous_as must name a place in the versions area, built by version_key()."""
    head = META_DIR + b"/versions/"
    if not keep_as.startswith(head):
        raise TargetError(f"keep_previous_as {keep_as!r} is not in the versions area")
    return head + check_key(keep_as[len(head):])


def _lstat(sftp: ExtSFTPClient, path: bytes):
    try:
        return sftp.lstat(path)
    except FileNotFoundError:
        return None


def _regular(sftp: ExtSFTPClient, path: bytes, key: bytes) -> int | None:
    """Size of the regular file at ``path``, None when absent; a symlink there is refused."""
    attrs = _lstat(sftp, path)
    if attrs is None:
        return None
    if stat.S_ISLNK(attrs.st_mode):
        raise TargetError("the replica is a symlink (refused)", path=key)
    if not stat.S_ISREG(attrs.st_mode):
        raise TargetError("the replica is not a regular file", path=key)
    return attrs.st_size


def _same_bytes(sftp: ExtSFTPClient, a: bytes, b: bytes, key: bytes) -> bool:
    """Two remote files (both about ``key``) with the same bytes: sizes first, then both read and hashed."""
    size_a, size_b = _regular(sftp, a, key), _regular(sftp, b, key)
    if size_a is None or size_a != size_b:
        return False
    digests = []
    for path in (a, b):
        digest = hashlib.sha256()
        handle = sftp.open_handle(path, SFTP_FLAG_READ)
        try:
            for chunk in read_stream(sftp, handle, size_a, lambda _n: None):
                digest.update(chunk)
        finally:
            _close_quietly(sftp, handle)
        digests.append(digest.digest())
    return digests[0] == digests[1]


def _mkdir(sftp: ExtSFTPClient, path: bytes) -> None:
    try:
        sftp.mkdir(path, 0o750)
    except FileNotFoundError:
        raise
    except OSError:
        if _lstat(sftp, path) is None:  # not "another worker made it first"
            raise


def _ends_with_newline(sftp: ExtSFTPClient, path: bytes) -> bool:
    size = _regular(sftp, path, MANIFEST)
    if not size:
        return True
    with sftp.open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


def _close_quietly(sftp: ExtSFTPClient, handle: bytes) -> None:
    try:
        sftp._request(CMD_CLOSE, handle)
    except Exception:  # the link may be gone; the server closes its handles with the channel
        log.debug("could not close a handle", exc_info=True)


def _remove_quietly(sftp: ExtSFTPClient, path: bytes) -> None:
    try:
        sftp.remove(path)
    except Exception:  # the link may be gone; remove_temporaries() sweeps it up later
        log.debug("could not remove temporary %r", path, exc_info=True)


def _split(key: bytes) -> tuple[bytes, bytes]:
    folder, _, name = key.rpartition(b"/")
    return folder, name


def _join(folder: bytes, name: bytes) -> bytes:
    return folder + b"/" + name if folder else name

"""SFTP specifics beyond the contract: extensions, remote sha256sum, symlinks, threads, bandwidth."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from replication.sftp.client import FSYNC, HARDLINK, POSIX_RENAME
from replication.sftp.target import SftpTarget
from replication.target import Marker, TargetError, version_key


def _ready(server, **overrides) -> tuple[SftpTarget, Path]:
    root = Path(server.remote_dir("details"))
    target = SftpTarget(server.target_config("remote", str(root), **overrides))
    target.write_marker(Marker("remote", "m-1", time.time()))
    return target, root


def test_openssh_extensions_are_seen(sshd_server):
    target, _root = _ready(sshd_server)
    with target.sessions.sftp("probing") as sftp:
        assert {FSYNC, HARDLINK, POSIX_RENAME} <= set(sftp.extensions)
    target.close()


def test_remote_sha256sum(sshd_server):
    target, _root = _ready(sshd_server, remote_sha256=True)
    key = b"w/it's \xff a \"quoted\" $(name).pdf"
    target.put(key, [b"remote bytes"], 0, None)
    assert target.checksum(key) == hashlib.sha256(b"remote bytes").hexdigest()
    assert target.checksum(b"w/absent.pdf") is None
    target.close()


def test_mtime_is_kept_to_the_second(sshd_server):
    target, root = _ready(sshd_server)
    target.put(b"a.pdf", [b"x"], 1_650_000_000_123_456_789, None)
    assert (root / "a.pdf").stat().st_mtime == 1_650_000_000
    target.close()


def test_symlink_in_replica_tree_is_not_followed(sshd_server, tmp_path):
    target, root = _ready(sshd_server)
    outside = Path(sshd_server.remote_dir("outside"))
    outside.mkdir()
    os.chown(outside, sshd_server.uid, sshd_server.gid)
    (root / "evil").symlink_to(outside)
    with pytest.raises(TargetError, match="symlink"):
        target.put(b"evil/x.pdf", [b"x"], 0, None)
    (root / "link.pdf").symlink_to(outside / "secret")
    with pytest.raises(TargetError, match="symlink"):
        target.checksum(b"link.pdf")
    assert list(outside.iterdir()) == []
    target.close()


def test_keep_previous_as_must_be_a_version_key(sshd_server):
    target, root = _ready(sshd_server)
    target.put(b"a.pdf", [b"one"], 0, None)
    with pytest.raises(TargetError, match="versions area"):
        target.put(b"a.pdf", [b"two"], 0, b"../../escaped")
    with pytest.raises(Exception):
        target.put(b"a.pdf", [b"two"], 0, b".jaga/versions/../../escaped")
    assert (root / "a.pdf").read_bytes() == b"one"
    target.put(b"a.pdf", [b"two"], 0, version_key(b"a.pdf", 1))
    assert (root / ".jaga/versions/a.pdf/1").read_bytes() == b"one"
    target.close()


def test_parallel_puts_share_one_connection(sshd_server):
    target, root = _ready(sshd_server)
    keys = [f"w/{n % 3}/{n}.pdf".encode() for n in range(24)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda key: target.put(key, [key * 1000], 0, None), keys))
    for key in keys:
        assert target.checksum(key) == hashlib.sha256(key * 1000).hexdigest()
    assert target.sessions._client.get_transport().is_active()
    target.close()


def test_bandwidth_limit(sshd_server):
    target, _root = _ready(sshd_server, bandwidth=1024 * 1024)
    started = time.monotonic()
    target.put(b"slow.bin", [b"s" * 65536] * 40, 0, None)  # 2.5 MiB: 1 MiB burst, then 1.5 s of debt
    assert time.monotonic() - started >= 1.3
    target.close()

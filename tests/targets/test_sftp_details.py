"""SFTP specifics beyond the contract: extensions, remote sha256sum, symlinks, threads, bandwidth."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
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


def test_requests_are_not_held_back_by_nagle(sshd_server):
    """paramiko leaves Nagle's algorithm on: a request then waits for the server's delayed ACK (a
    put took about 40 ms instead of 9 ms on loopback)."""
    target, _root = _ready(sshd_server)
    with target.sessions.sftp("probing") as sftp:
        sock = sftp.get_channel().get_transport().sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    target.close()


@pytest.fixture
def full_root(sshd_server):
    """A target root on a 1 MiB tmpfs owned by the SFTP user: a write past 1 MiB fails with ENOSPC."""
    home = Path(sshd_server.remote_dir("full"))
    home.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=1m,mode=0755,uid={sshd_server.uid},gid={sshd_server.gid}",
                    "tmpfs", str(home)], check=True)
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=True)


def test_a_write_the_server_refuses_fails_the_put_and_nothing_is_renamed(sshd_server, full_root):
    """Every pipelined write's answer is checked: paramiko's own pipelining dropped them, and a replica
    cut short by a full disk was renamed into place."""
    target = SftpTarget(sshd_server.target_config("remote", str(full_root / "replica")))
    target.write_marker(Marker("remote", "m-1", time.time()))
    with pytest.raises(TargetError):
        target.put(b"w/big.bin", [b"z" * (1 << 20)] * 2, 0, None)
    assert not (full_root / "replica" / "w" / "big.bin").exists()
    assert [p.name for p in (full_root / "replica" / "w").iterdir()] == []   # its temporary is gone too
    assert target.put(b"w/small.bin", [b"fits"], 0, None) is True            # the channel is still in step
    assert target.checksum(b"w/small.bin") == hashlib.sha256(b"fits").hexdigest()
    target.close()


def test_folders_are_checked_again_after_a_flush(sshd_server):
    """Folders found sound are remembered for one batch only: a folder replaced by a symlink between
    batches is refused, and nothing is written through it."""
    target, root = _ready(sshd_server)
    assert target.put(b"w/a.pdf", [b"a"], 0, None) is True
    outside = Path(sshd_server.remote_dir("outside"))
    outside.mkdir()
    os.chown(outside, sshd_server.uid, sshd_server.gid)
    (root / "w" / "a.pdf").unlink()
    (root / "w").rmdir()
    (root / "w").symlink_to(outside)
    target.flush()
    with pytest.raises(TargetError, match="symlink"):
        target.put(b"w/b.pdf", [b"b"], 0, None)
    assert list(outside.iterdir()) == []
    target.close()

"""SFTP against a real sshd that dies, or whose link is cut, in the middle of an upload; and host keys
that are unknown or changed. The rule in every case: no partial file under its final name, a clear
TargetDown, and the next operation reconnects by itself."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from replication.sftp.target import SftpTarget
from replication.target import TEMP_PREFIX, Marker, TargetDown
from tests.servers.polling import wait_until
from tests.servers.sshd import keygen

MiB = 1024 * 1024


def _target(server, **overrides) -> tuple[SftpTarget, Path]:
    root = Path(server.remote_dir("outage"))
    target = SftpTarget(server.target_config("remote", str(root), **overrides))
    target.write_marker(Marker("remote", "m-1", time.time()))
    return target, root


def _stream(total_mib: int, at_mib: int, action):
    """1 MiB chunks; ``action()`` runs once, after ``at_mib`` of them were handed out."""
    for number in range(total_mib):
        if number == at_mib:
            action()
        yield b"\x5a" * MiB


def _comes_back(target) -> Marker:
    """After healing, the host's neighbour entry may still say 'unreachable' for a moment: poll."""
    def attempt():
        try:
            return target.read_marker()
        except TargetDown:
            return None
    return wait_until(attempt, timeout=15, interval=0.2, what="target back up")


def _temporaries(root: Path) -> list[str]:
    return [name for _d, _s, files in os.walk(root) for name in files if name.startswith(TEMP_PREFIX.decode())]


def test_sshd_killed_mid_upload(fresh_sshd):
    target, root = _target(fresh_sshd)
    started = time.monotonic()
    with pytest.raises(TargetDown, match="lost"):
        target.put(b"w/big.pdf", _stream(64, 3, fresh_sshd.kill), 0, None)
    assert time.monotonic() - started < 10
    assert not (root / "w" / "big.pdf").exists()
    with pytest.raises(TargetDown):
        target.read_marker()
    fresh_sshd.restart()
    assert target.read_marker().marker_id == "m-1"
    left = len(_temporaries(root))  # the half-written temporary the dead server could not remove
    assert left == 1
    assert target.remove_temporaries() == left
    assert _temporaries(root) == []
    target.put(b"w/big.pdf", [b"complete"], 0, None)
    assert target.checksum(b"w/big.pdf") == hashlib.sha256(b"complete").hexdigest()
    target.close()


def test_cut_link_mid_upload_then_reconnect(netns_sshd):
    target, root = _target(netns_sshd, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(TargetDown, match="timed out"):  # by the channel or the kernel (TCP_USER_TIMEOUT)
        target.put(b"w/big.pdf", _stream(256, 2, netns_sshd.netns.cut), 0, None)
    assert time.monotonic() - started < 15
    assert not (root / "w" / "big.pdf").exists()
    with pytest.raises(TargetDown):
        target.read_marker()  # still cut: connecting times out
    netns_sshd.netns.heal()
    assert _comes_back(target).marker_id == "m-1"
    target.remove_temporaries()
    assert _temporaries(root) == []
    target.put(b"w/big.pdf", [b"complete"], 0, None)
    assert (root / "w" / "big.pdf").read_bytes() == b"complete"
    target.close()


def test_idle_connection_cut_is_noticed(netns_sshd):
    target, _root = _target(netns_sshd, timeout=1.5)
    assert target.read_marker() is not None      # a pooled, idle SFTP channel now exists
    netns_sshd.netns.cut()
    started = time.monotonic()
    with pytest.raises(TargetDown):
        target.read_marker()
    assert time.monotonic() - started < 6
    netns_sshd.netns.heal()
    assert _comes_back(target) is not None
    target.close()


def test_unknown_host_key_is_refused(sshd_server, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    target = SftpTarget(sshd_server.target_config("remote", sshd_server.remote_dir("hk"), known_hosts=known))
    with pytest.raises(TargetDown, match="not in .*never accepts unknown keys"):
        target.read_marker()
    assert known.read_text() == ""  # nothing learned


def test_changed_host_key_is_refused(sshd_server, tmp_path):
    other = keygen(tmp_path / "otherkey")
    key = Path(f"{other}.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[{sshd_server.host}]:{sshd_server.port} {key[0]} {key[1]}\n")
    target = SftpTarget(sshd_server.target_config("remote", sshd_server.remote_dir("hk"), known_hosts=known))
    with pytest.raises(TargetDown, match="CHANGED"):
        target.read_marker()


def test_missing_known_hosts_file(sshd_server, tmp_path):
    target = SftpTarget(sshd_server.target_config("remote", "x", known_hosts=tmp_path / "absent"))
    with pytest.raises(TargetDown, match="known_hosts"):
        target.read_marker()


def test_refused_client_key(sshd_server, tmp_path):
    stranger = keygen(tmp_path / "stranger")
    target = SftpTarget(sshd_server.target_config("remote", "x", key_file=stranger))
    with pytest.raises(TargetDown, match="refused the key"):
        target.read_marker()


def test_nobody_listening(sshd_server, tmp_path):
    from tests.servers.polling import free_port
    target = SftpTarget(sshd_server.target_config("remote", "x", port=free_port()))
    with pytest.raises(TargetDown, match="cannot connect"):
        target.read_marker()


def test_missing_root_is_down_not_created(sshd_server):
    root = Path(sshd_server.remote_dir("never-initialised"))
    target = SftpTarget(sshd_server.target_config("remote", str(root)))
    with pytest.raises(TargetDown, match="does not exist"):
        target.put(b"a/b.pdf", [b"x"], 0, None)
    with pytest.raises(TargetDown, match="does not exist"):
        target.put(b"b.pdf", [b"x"], 0, None)
    assert not root.exists()
    target.close()

"""S1. burst to SFTP: 2,000 × 64 KiB arrive at once and go to a real OpenSSH server on loopback (the
tests' sshd, tests/servers/sshd.py), against ``rsync -a -e ssh`` and ``rclone copy`` (sftp remote) to
the same server, same user, same disk.

jaga's figure is rename into the watch → last replica verified (each written to a temporary name,
fsync@openssh.com, renamed into place, read back and compared, its manifest line fsynced before the
journal says verified). rsync and rclone fsync nothing; rclone checks a hash where the server lets it
run md5sum/sha1sum."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.burst import jaga_burst
from bench.context import Context
from bench.jagaproc import JagaDaemon
from bench.peers import rclone_copy, rsync_over_ssh, write_rclone_config
from bench.report import Row
from bench.stats import median
from bench.util import fresh, settle_disk
from bench.workload import KIB, specs, write_tree
from tests.servers.sshd import SshServer, sshd_unavailable

PEERS = ("rsync -a -e ssh", "rclone copy")


def run(ctx: Context, count: int, repeats: int) -> list[Row]:
    reason = sshd_unavailable()
    if reason:
        raise RuntimeError(f"S1 needs a real sshd: {reason}")
    base = fresh(ctx.ws / "S1")
    server = SshServer.start(base / "sshd")
    try:
        stage = base / "stage" / "burst"
        stage.mkdir(parents=True)
        write_tree(ctx.payload, str(stage), specs(count, 64 * KIB, 64 * KIB, seed=31, prefix="s"))
        rclone = write_rclone_config(base / "rclone.conf", "remote", {
            "type": "sftp", "host": server.host, "port": server.port, "user": server.user,
            "key_file": server.key_file, "known_hosts_file": server.known_hosts})
        results: dict[str, list[float]] = {"jaga": [], **{peer: [] for peer in PEERS}}
        for index in range(repeats):
            settle_disk()
            results["rsync -a -e ssh"].append(
                rsync_over_ssh(stage, f"{server.user}@{server.host}:{_remote(server, 'rsync')}", ssh_command(server)))
            settle_disk()
            results["rclone copy"].append(rclone_copy(rclone, stage, f"remote:{_remote(server, 'rclone')}"))
            settle_disk()
            results["jaga"].append(_jaga(ctx, server, base / f"jaga{index}", stage, count))
            _clear_remote(server)
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
    return _rows(results, count)


def ssh_command(server: SshServer) -> list[str]:
    """OpenSSH's client with the pinned host key and the test key, nothing learned, nothing asked."""
    return ["ssh", "-i", str(server.key_file), "-p", str(server.port), "-o", f"UserKnownHostsFile={server.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]


def _remote(server: SshServer, name: str) -> str:
    """A fresh folder on the server, owned by its user (the peers copy into it)."""
    path = server.remote_dir(name)
    os.mkdir(path)
    os.chown(path, server.uid, server.gid)
    return path


def _clear_remote(server: SshServer) -> None:
    for path in server.remote_dirs:
        shutil.rmtree(path, ignore_errors=True)
    server.remote_dirs.clear()


def _jaga(ctx: Context, server: SshServer, base: Path, stage: Path, count: int) -> float:
    fresh(base)
    target = {"name": "remote", "type": "sftp", "host": server.host, "port": server.port, "user": server.user,
              "key_file": str(server.key_file), "known_hosts": str(server.known_hosts),
              "path": server.remote_dir("jaga")}
    daemon = JagaDaemon(base, ctx.source, extra={"targets": [target]})
    try:
        return jaga_burst(daemon, stage, count)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _rows(results: dict, count: int) -> list[Row]:
    label = f"S1 SFTP burst ({count} × 64 KiB)"
    jaga = median(results["jaga"])
    peers = {peer: median(results[peer]) for peer in PEERS}
    faster = min(peers, key=peers.get)
    rows = [Row(label, f"all verified vs the faster peer ({faster})", "s", jaga, peers[faster], faster,
                "≤ 1.0 × the faster peer", "ratio<=", 1.0, results)]
    for peer in PEERS:
        if peer != faster:
            rows.append(Row(label, f"all verified vs {peer}", "s", jaga, peers[peer], peer, samples=results))
    return rows

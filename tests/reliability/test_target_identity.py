"""A different disk at the target's mount point: another server's initialised jaga target (a
`.jaga-target` with another id) is renamed or mounted into place while uploads stream. Nothing of ours
may land on it, nothing recorded verified during the swap may be missing when the right disk returns,
and everything drains after it does."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from replication.target import ManifestEntry, Marker
from tests.invariants import assert_all_replicated, assert_invariants
from tests.reliability.rig import require, root_reason, wait_for


def foreign_target(root: Path) -> dict[str, bytes]:
    """Another server's secondary disk: same target name, its own id, its own manifest and data."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".jaga-target").write_bytes(Marker("secondary", uuid.uuid4().hex, time.time() - 86400).to_bytes())
    (root / "uploads" / "theirs").mkdir(parents=True)
    (root / "uploads" / "theirs" / "proposal.pdf").write_bytes(b"another server's proposal")
    (root / ".jaga").mkdir()
    entry = ManifestEntry(b"uploads/theirs/proposal.pdf", 1, 25, "0" * 64, 1_600_000_000 * 10**9, time.time())
    (root / ".jaga" / "manifest.jsonl").write_text(entry.to_json() + "\n")
    return snapshot(root)


def snapshot(root: Path) -> dict[str, bytes]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            found[rel] = b"<dir>" if os.path.isdir(path) else Path(path).read_bytes()
    return found


@pytest.mark.parametrize("swap", ["renamed", "mounted"])
def test_a_foreign_target_swapped_in_mid_stream_receives_nothing_and_nothing_is_lost(rig, swap):
    if swap == "mounted":
        require(root_reason())
    d = rig.deployment()
    d.replica.mkdir()
    foreign = rig.base / "foreign"
    if swap == "mounted":
        rig.mounts.tmpfs(foreign, "32m")  # its own filesystem: another st_dev, like another disk
    before = foreign_target(foreign)
    d.start()
    writer = rig.writer(d.uploads, count=500, rate=120, sizes=(500, 20_000), seed=10)
    writer.start()
    wait_for(lambda: d.counter("jaga_replicas_verified_total", target="secondary") >= 40, timeout=30,
             message="replication under way on the right disk")

    away = rig.base / "replica-away"
    if swap == "renamed":
        os.rename(d.replica, away)
        os.rename(foreign, d.replica)
    else:
        rig.mounts.bind(foreign, d.replica)
    swapped_at = len(writer.written)
    wait_for(lambda: d.counter("jaga_target_up", target="secondary") == 0, timeout=20,
             message="target reported down while a foreign disk is in place")
    wait_for(lambda: len(writer.written) >= swapped_at + 100, timeout=30,
             message="100 more uploads while the foreign disk is in place")
    status = d.status()["targets"]["secondary"]
    assert status["up"] is False and "marker" in (status["down_reason"] or ""), status

    if swap == "renamed":
        os.rename(d.replica, foreign)
        os.rename(away, d.replica)
    else:
        rig.mounts.umount(d.replica)
    written = writer.finish()
    wait_for(lambda: d.all_verified(written), timeout=90, interval=0.3,
             message="everything drained after the right disk returned")
    assert d.counter("jaga_target_up", target="secondary") == 1
    after = snapshot(foreign)
    ours = sorted(set(after) - set(before))
    assert not ours, f"{len(ours)} name(s) of ours landed on the foreign target: {ours[:8]}"
    assert after == before, "the foreign target's own files were changed"
    d.stop()
    assert_all_replicated(d)
    assert_invariants(d)

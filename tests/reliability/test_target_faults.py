"""The target's disk misbehaves: it fills up, turns read-only, or falls off (is unmounted) mid-stream."""

from __future__ import annotations

import os

from tests.harness import write_file
from tests.invariants import assert_all_replicated, assert_verified_means_identical
from tests.reliability.rig import binary_reason, require, root_reason, wait_for


def last_errors(d) -> list[str]:
    return [e for (e,) in d.journal_rows("SELECT last_error FROM replicas WHERE state = 'failed'") if e]


def write_batch(d, prefix: str, count: int, size: int) -> list[bytes]:
    rels = []
    for i in range(count):
        rel = f"{prefix}/{i % 4}/{prefix}-{i:03d}.pdf"
        write_file(d.uploads / rel, os.urandom(size))
        rels.append(rel.encode())
    return rels


def test_full_target_piles_up_a_visible_backlog_that_drains_when_space_returns(rig):
    require(root_reason())
    d = rig.deployment()
    rig.mounts.tmpfs(d.replica, "10m")
    d.start()
    # 64 x 256 KiB = 16 MiB into a 10 MiB disk: the copies past ~9.5 MiB fail with ENOSPC
    rels = write_batch(d, "hibah", 64, 256 * 1024)
    wait_for(lambda: d.counter("jaga_replication_errors_total", target="secondary") > 0, timeout=30,
             message="replication errors once the target is full")
    wait_for(lambda: d.pending_metric() >= 10, timeout=30,
             message="a backlog of at least 10 files in jaga_replication_pending_files")
    assert any("No space left" in e or "ENOSPC" in e for e in last_errors(d)), last_errors(d)
    status = d.status()["targets"]["secondary"]
    assert status["failed"] + status["pending"] >= 10 and status["up"], status
    wait_for(lambda: (d.metric("jaga_replication_oldest_pending_seconds", node=d.node,
                                                  target="secondary") or 0) > 0,
             timeout=30, message="the backlog's age in jaga_replication_oldest_pending_seconds")
    # while full, nothing the journal calls verified may differ from what the disk holds
    assert_verified_means_identical(d, {"secondary": d.replica})

    # more uploads arrive while the disk is full: they join the backlog, nothing is dropped
    rels += write_batch(d, "bansos", 8, 128 * 1024)
    wait_for(lambda: d.journal_rows("SELECT count(*) FROM files")[0][0] == len(rels), timeout=30,
             message="late uploads journaled while the target is full")

    rig.mounts.remount(d.replica, "size=64m")
    wait_for(lambda: d.all_verified(rels), timeout=60, interval=0.2, message="backlog drained after space returned")
    wait_for(lambda: d.pending_metric() == 0, timeout=30, message="jaga_replication_pending_files back to 0")
    assert d.status()["targets"]["secondary"]["failed"] == 0
    assert_all_replicated(d)


def test_read_only_target_fails_copies_until_remounted_read_write(rig):
    require(root_reason())
    d = rig.deployment()
    rig.mounts.tmpfs(d.replica, "64m")
    d.start()
    first = write_batch(d, "before", 10, 20_000)
    wait_for(lambda: d.all_verified(first), message="first batch verified")

    rig.mounts.remount(d.replica, "ro")
    errors_before = d.counter("jaga_replication_errors_total", target="secondary")
    late = write_batch(d, "during", 20, 20_000)
    wait_for(lambda: d.counter("jaga_replication_errors_total", target="secondary") > errors_before,
             timeout=30, message="copies failing on the read-only target")
    wait_for(lambda: any("Read-only" in e or "EROFS" in e for e in last_errors(d)), timeout=30,
             message="EROFS recorded as the replicas' last error")
    wait_for(lambda: d.pending_metric() >= 1, timeout=30, message="backlog visible in the metrics")
    assert not any(d.is_verified(rel) for rel in late), "nothing can be verified on a read-only disk"
    assert_verified_means_identical(d, {"secondary": d.replica})

    rig.mounts.remount(d.replica, "rw")
    wait_for(lambda: d.all_verified(first + late), timeout=60, interval=0.2,
             message="backlog drained after remount rw")
    wait_for(lambda: d.pending_metric() == 0, timeout=30, message="pending metric back to 0")
    assert_all_replicated(d)


def test_unmounted_target_disk_gets_nothing_in_its_bare_mount_point_and_drains_on_remount(rig):
    require(root_reason(), binary_reason("mkfs.ext4", "losetup"))
    d = rig.deployment()
    image = rig.mounts.ext4_image(rig.base / "secondary.img", "64M")
    rig.mounts.loop(image, d.replica)
    d.start()
    writer = rig.writer(d.uploads, count=300, rate=60, sizes=(1000, 40_000), seed=5)
    writer.start()
    wait_for(lambda: d.counter("jaga_replicas_verified_total", target="secondary") >= 40, timeout=30,
             message="replication under way on the mounted disk")

    rig.mounts.umount(d.replica, lazy=True)  # "the secondary disk fell off" mid-stream
    assert not os.path.ismount(d.replica)
    wait_for(lambda: d.counter("jaga_target_up", target="secondary") == 0, timeout=20,
             message="target reported down (jaga_target_up 0)")
    written = writer.finish()
    wait_for(lambda: d.journal_rows("SELECT count(*) FROM files")[0][0] == len(written), timeout=30,
             message="every upload journaled while the target is gone")
    wait_for(lambda: d.pending_metric() > 0, timeout=30, message="backlog visible while unmounted")
    assert os.listdir(d.replica) == [], f"written into the bare mount point: {os.listdir(d.replica)}"
    status = d.status()["targets"]["secondary"]
    assert status["up"] is False and "marker" in (status["down_reason"] or ""), status

    # the lazily detached filesystem must be released before the image can be mounted again
    wait_for(lambda: rig.mounts.loop_devices(image) == "", timeout=30, message="old loop device released")
    assert os.listdir(d.replica) == [], f"written into the bare mount point: {os.listdir(d.replica)}"
    rig.mounts.loop(image, d.replica)
    wait_for(lambda: d.all_verified(written), timeout=60, interval=0.2, message="backlog drained after remount")
    wait_for(lambda: d.pending_metric() == 0, timeout=30, message="pending metric back to 0")
    assert d.counter("jaga_target_up", target="secondary") == 1
    assert_all_replicated(d)

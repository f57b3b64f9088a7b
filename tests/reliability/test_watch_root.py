"""The watched folder itself deleted and recreated, moved away and replaced, remounted, or replaced
by a symlink (an operator moving the uploads to a new disk). jaga notices within seconds, says so
on /readyz (503, with the reason) and in a metric until the folder is watched again, then rescans it
at once: no upload waits for the periodic reconcile (15 minutes). A symlink is never followed."""

from __future__ import annotations

import json
import os
import shutil

from tests.harness import write_file
from tests.invariants import assert_all_replicated
from tests.reliability.rig import require, root_reason, wait_for


def readiness(d) -> tuple[int, list[str]]:
    status, body = d.http("/readyz")
    return status, json.loads(body)["reasons"]


def watch_reasons(d) -> list[str]:
    return [reason for reason in readiness(d)[1] if reason.startswith("watch uploads:")]


def current_paths(d) -> set[bytes]:
    return {bytes(p) for (p,) in d.journal_rows("SELECT path FROM files WHERE deleted_at IS NULL")}


def start_with_one_upload(rig):
    d = rig.deployment()
    d.start()
    write_file(d.uploads / "before.pdf", b"uploaded before the move")
    wait_for(lambda: d.all_verified([b"before.pdf"]), message="the first upload verified")
    assert readiness(d)[0] == 200
    assert d.counter("jaga_watch_up", watch="uploads") == 1
    return d


def assert_watched_again(d, new_file: str, restarts: int = 1) -> None:
    wait_for(lambda: d.all_verified([new_file.encode()]), timeout=15,
             message=f"{new_file} verified within seconds, not at the next periodic reconcile")
    wait_for(lambda: readiness(d)[0] == 200, timeout=10, message="/readyz ready again")
    assert d.counter("jaga_watch_up", watch="uploads") == 1
    assert d.counter("jaga_watch_restarts_total", watch="uploads") == restarts
    assert "is watched again; rescanning it" in d.log_text()


def test_a_watch_root_deleted_and_recreated_is_watched_again_within_seconds(rig):
    d = start_with_one_upload(rig)
    shutil.rmtree(d.uploads)
    wait_for(lambda: watch_reasons(d), timeout=10, message="/readyz naming the lost watch")
    assert readiness(d)[0] == 503 and "not watched since" in watch_reasons(d)[0]
    assert d.counter("jaga_watch_up", watch="uploads") == 0
    assert "was deleted" in d.log_text()
    d.uploads.mkdir()
    write_file(d.uploads / "after.pdf", b"uploaded into the new folder at once")
    assert_watched_again(d, "after.pdf")
    wait_for(lambda: current_paths(d) == {b"after.pdf"}, message="the deleted file marked deleted")
    assert_all_replicated(d)


def test_a_watch_root_moved_away_and_replaced_by_another_folder(rig):
    d = start_with_one_upload(rig)
    old = rig.base / "uploads.old"
    os.rename(d.uploads, old)
    d.uploads.mkdir()
    write_file(old / "stray.pdf", b"written into the old folder, now outside the watch")
    write_file(d.uploads / "new.pdf", b"uploaded into the folder now at the watched path")
    assert_watched_again(d, "new.pdf")
    write_file(d.uploads / "later.pdf", b"events flow from the new folder")
    wait_for(lambda: d.all_verified([b"later.pdf"]), timeout=10, message="a later upload seen by its event")
    assert b"stray.pdf" not in {bytes(p) for (p,) in d.journal_rows("SELECT path FROM files")}
    assert_all_replicated(d)


def test_a_filesystem_mounted_over_the_watch_root_is_watched(rig):
    require(root_reason())
    d = start_with_one_upload(rig)
    rig.mounts.tmpfs(d.uploads, "16m")  # the new disk, mounted at the watched path
    write_file(d.uploads / "on-the-new-disk.pdf", b"the mount point now names another filesystem")
    assert_watched_again(d, "on-the-new-disk.pdf")
    assert_all_replicated(d)


def test_a_watch_root_replaced_by_a_symlink_is_refused_until_it_is_a_folder_again(rig):
    d = start_with_one_upload(rig)
    elsewhere = rig.base / "elsewhere"
    elsewhere.mkdir()
    write_file(elsewhere / "secret.pdf", b"must never be read through the symlink")
    os.rename(d.uploads, rig.base / "uploads.old")
    os.symlink(elsewhere, d.uploads)
    wait_for(lambda: any("symlink" in reason for reason in watch_reasons(d)), timeout=10,
             message="/readyz saying the watch root is a symlink")
    assert readiness(d)[0] == 503
    assert d.counter("jaga_watch_up", watch="uploads") == 0
    write_file(elsewhere / "also-secret.pdf", b"written while the symlink is in place")
    os.unlink(d.uploads)
    d.uploads.mkdir()
    write_file(d.uploads / "real.pdf", b"a real folder again")
    assert_watched_again(d, "real.pdf")
    journaled = {bytes(p) for (p,) in d.journal_rows("SELECT path FROM files")}
    assert not journaled & {b"secret.pdf", b"also-secret.pdf"}, "a file was read through the symlink"
    assert not (d.replica_data / "secret.pdf").exists()
    assert_all_replicated(d)

"""Deletions the journal must not miss: files removed while jaga was down, and a folder moved out of
the tree (inotify says only "moved from", never what was inside). A file gone from the primary is
marked deleted (so `jaga status` and `jaga report` count what exists); its replicas stay."""

from __future__ import annotations

import os
import shutil

from tests.harness import write_file
from tests.invariants import assert_all_replicated
from tests.reliability.rig import wait_for


def current_paths(d) -> set[bytes]:
    return {bytes(p) for (p,) in d.journal_rows("SELECT path FROM files WHERE deleted_at IS NULL")}


def test_files_deleted_while_jaga_was_down_are_marked_deleted(rig):
    d = rig.deployment()
    d.start()
    kept, removed = [], []
    for i in range(40):
        rel = f"day{i % 4}/form-{i:02d}.pdf"
        write_file(d.uploads / rel, b"form %d" % i)
        (removed if i % 3 == 0 else kept).append(rel.encode())
    wait_for(lambda: d.all_verified(kept + removed), message="every form verified")
    d.stop()
    for rel in removed:
        os.unlink(d.uploads / os.fsdecode(rel))
    shutil.rmtree(d.uploads / "day3")  # a whole folder too
    kept = [rel for rel in kept if not rel.startswith(b"day3/")]
    d.start()
    wait_for(lambda: current_paths(d) == set(kept), timeout=30,
             message="the startup reconcile marking what is gone deleted")
    assert d.status()["files"] == len(kept)
    for rel in removed:  # the replicas stay
        assert (d.replica_data / os.fsdecode(rel)).exists()
    assert_all_replicated(d)


def test_a_folder_moved_out_of_the_tree_is_marked_deleted_at_once(rig):
    d = rig.deployment()
    d.start()
    outside = rig.base / "elsewhere"
    outside.mkdir()
    inside = [f"batch/{sub}/scan-{i}.pdf".encode() for sub in ("a", "b/c") for i in range(5)]
    for rel in inside:
        write_file(d.uploads / os.fsdecode(rel), rel)
    write_file(d.uploads / "stays.pdf", b"not moved")
    wait_for(lambda: d.all_verified(inside + [b"stays.pdf"]), message="every scan verified")
    os.rename(d.uploads / "batch", outside / "batch")
    wait_for(lambda: current_paths(d) == {b"stays.pdf"}, timeout=10,
             message="the moved-out folder's files marked deleted (not at the next periodic reconcile)")
    write_file(outside / "batch" / "a" / "later.pdf", b"written outside the tree")
    write_file(d.uploads / "after.pdf", b"still watched")
    wait_for(lambda: d.all_verified([b"after.pdf"]), message="a later upload")
    assert current_paths(d) == {b"stays.pdf", b"after.pdf"}, "nothing outside the tree is journaled"
    assert_all_replicated(d)

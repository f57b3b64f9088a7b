"""What only the local target does: the folders a put makes reach the disk before anything is
verified, and sixteen puts at once do not queue on one lock to prove the root."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from replication.local.target import LocalTarget
from replication.target import MARKER_NAME, Marker, TargetDown
from tests.targets.cases import random_bytes


@pytest.fixture
def local(tmp_path):
    target = LocalTarget("secondary", tmp_path / "replica")
    target.write_marker(Marker("secondary", "m-1", time.time()))
    target.prove_identity()  # as the dispatcher does before it claims
    yield target
    target.close()


def _synced_paths(monkeypatch) -> list[str]:
    """Every path os.fsync is called on from now (folders and files), in order."""
    synced = []
    real = os.fsync

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


def test_a_folder_a_put_makes_is_fsynced_into_its_parent_by_the_flush(local, monkeypatch):
    """A new folder's name lives in its parent: the flush that comes before "verified" fsyncs the
    parent of every folder a put made, and the folder the file was renamed into."""
    synced = _synced_paths(monkeypatch)
    local.put(b"w/a/b/c/f.pdf", [random_bytes(3000)], 1_700_000_000 * 10**9, None)
    local.flush()
    root = str(local.root)
    folders = {root, f"{root}/w", f"{root}/w/a", f"{root}/w/a/b", f"{root}/w/a/b/c"}
    assert folders <= set(synced), synced


def test_a_folder_made_while_a_flush_runs_is_still_fsynced_before_its_files_are_verified(local, monkeypatch):
    """Puts into one new folder race a flush: whichever way it falls, the flush after the last put
    has fsynced the new folder's parent (each put queues every folder on its way)."""
    for round_ in range(20):
        synced = _synced_paths(monkeypatch)
        folder = f"w/r{round_}".encode()
        puts = [threading.Thread(target=local.put, args=(folder + b"/f%d" % i, [b"x" * 100], 0, None))
                for i in range(4)]
        flusher = threading.Thread(target=local.flush)
        for thread in puts[:2] + [flusher] + puts[2:]:
            thread.start()
        for thread in puts + [flusher]:
            thread.join()
        local.flush()  # the flush the dispatcher runs before it records these puts
        assert f"{local.root}/w" in synced, f"round {round_}: the parent of the new folder was never fsynced"
        monkeypatch.undo()


def test_puts_check_the_root_without_waiting_for_each_other(local, monkeypatch):
    """Each put proves the root again (a disk swapped in under it gets nothing). A put held inside that
    check (looking for the marker) does not hold the others back: the check takes no shared lock."""
    inside, release = threading.Event(), threading.Event()
    real_stat = os.stat

    def slow_stat(path, *args, **kwargs):
        if threading.current_thread().name == "held" and path == MARKER_NAME.encode() and not inside.is_set():
            inside.set()
            release.wait(60)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", slow_stat)
    held = threading.Thread(target=local.put, args=(b"w/held.pdf", [b"h"], 0, None), name="held")
    held.start()
    try:
        assert inside.wait(10)
        other = threading.Thread(target=local.put, args=(b"w/other.pdf", [b"o"], 0, None))
        other.start()
        other.join(50)  # with a shared lock it would wait until "held" is let go, 60 s from now
        assert not other.is_alive() and held.is_alive(), "a put waited for another put's check of the root"
        assert (Path(local.root) / "w" / "other.pdf").read_bytes() == b"o"
    finally:
        release.set()
        held.join()
    assert (Path(local.root) / "w" / "held.pdf").read_bytes() == b"h"


def test_a_root_swapped_for_another_folder_gets_nothing_from_the_next_put(local, tmp_path):
    local.put(b"w/first.pdf", [b"1"], 0, None)
    os.rename(local.root, tmp_path / "moved-away")
    os.mkdir(local.root)
    (Path(local.root) / MARKER_NAME).write_bytes((tmp_path / "moved-away" / MARKER_NAME).read_bytes())
    with pytest.raises(TargetDown):
        local.put(b"w/second.pdf", [b"2"], 0, None)
    assert os.listdir(local.root) == [MARKER_NAME]

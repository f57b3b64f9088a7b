"""The contract every replica target keeps (local, SFTP, S3): the workers, verify and restore rely on
nothing else. The ``case`` fixture ends every test by checking that nothing was written outside the
root or prefix."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from replication import restore as restore_module
from replication.factory import build_target
from replication.target import (MARKER_NAME, META_DIR, TEMP_PREFIX, ManifestEntry, Marker, TargetDown, UnsafeKey,
                                check_key, version_key)
from tests.targets.cases import random_bytes

NAMES = [
    b"proposal.pdf",
    b"watch/2024/06/scan 01.jpg",
    b"watch/\xff\xfe latin-1 \xe9t\xe9.pdf",          # not UTF-8
    b"watch/" + b"n" * 251 + b".pdf",                  # a 255-byte name
    b"watch/%41 percent%2F and \xc3\xa9 utf-8.txt",
]
UNSAFE = [b"", b"/etc/passwd", b"../escape", b"a/../../escape", b"a//b", b"./a", b"a/./b", b"a\0b",
          b".jaga/manifest.jsonl", b".jaga/versions/x/1", MARKER_NAME.encode(), b"a/" + TEMP_PREFIX + b"x"]


def _put(target, key: bytes, data: bytes, keep: bytes | None = None, mtime_ns: int = 1_700_000_000 * 10**9):
    target.put(key, [data[i:i + 65536] for i in range(0, len(data), 65536)] or [b""], mtime_ns, keep)


def test_marker_missing_then_written(case):
    assert case.target.read_marker() is None
    marker = Marker(case.target.name, "m-42", 1_700_000_000.5)
    case.target.write_marker(marker)
    assert case.target.read_marker() == marker


@pytest.mark.parametrize("key", NAMES, ids=["plain", "nested", "not-utf8", "255-bytes", "percent"])
def test_put_checksum_read_round_trip(ready, key):
    data = random_bytes(200_000)
    _put(ready.target, key, data)
    assert ready.target.checksum(key) == hashlib.sha256(data).hexdigest()
    assert b"".join(ready.target.open_read(key)) == data
    assert ready.raw(key) == data
    assert key in set(ready.target.list_keys())


def test_empty_and_large_files(ready):
    big = random_bytes(6 * 1024 * 1024 + 123)  # above the S3 multipart threshold used here
    _put(ready.target, b"empty", b"")
    _put(ready.target, b"big/scan.tiff", big)
    assert ready.target.checksum(b"empty") == hashlib.sha256(b"").hexdigest()
    assert ready.target.checksum(b"big/scan.tiff") == hashlib.sha256(big).hexdigest()
    assert b"".join(ready.target.open_read(b"big/scan.tiff")) == big


def test_absent_key(ready):
    assert ready.target.checksum(b"nowhere/file.pdf") is None
    with pytest.raises(FileNotFoundError):
        b"".join(ready.target.open_read(b"nowhere/file.pdf"))


def test_keep_previous_as(ready):
    key = b"watch/form.pdf"
    _put(ready.target, key, b"version one", keep=version_key(key, 1))  # nothing to keep yet
    assert ready.raw(version_key(key, 1)) is None
    _put(ready.target, key, b"version two", keep=version_key(key, 1))
    assert ready.raw(key) == b"version two"
    assert ready.raw(version_key(key, 1)) == b"version one"
    assert b"".join(ready.target.open_version(key, 1)) == b"version one"
    with pytest.raises(FileNotFoundError):
        b"".join(ready.target.open_version(key, 7))
    assert ready.target.checksum(key) == hashlib.sha256(b"version two").hexdigest()
    assert set(ready.target.list_keys()) == {key}


def test_a_version_name_already_taken_is_never_overwritten(ready):
    """Numbering that restarted (a journal rebuilt without its history) asks to keep bytes under a name
    that holds an older version: both are kept, nothing is overwritten."""
    key = b"watch/form.pdf"
    _put(ready.target, key, b"version one")
    _put(ready.target, key, b"version two", keep=version_key(key, 1))
    _put(ready.target, key, b"version two", keep=version_key(key, 1))  # the same copy done again
    versions = [n for n in ready.names() if n.startswith(META_DIR + b"/versions/")]
    assert versions == [version_key(key, 1)], "a copy done again keeps nothing twice"
    _put(ready.target, key, b"version three", keep=version_key(key, 1))
    assert ready.raw(version_key(key, 1)) == b"version one"
    assert ready.raw(key) == b"version three"
    versions = [n for n in ready.names() if n.startswith(META_DIR + b"/versions/")]
    assert len(versions) == 2 and [ready.raw(n) for n in versions if n != version_key(key, 1)] == [b"version two"]


def test_writes_wait_for_a_proven_marker(case):
    with pytest.raises(TargetDown):
        _put(case.target, b"a.pdf", b"before any marker")
    case.target.write_marker(Marker(case.target.name, "m-1", time.time()))
    _put(case.target, b"a.pdf", b"proven")
    assert case.target.prove_identity().marker_id == "m-1"
    other = build_target(case.config, "srv-b") if hasattr(case, "config") else type(case.target)(case.target.name,
                                                                                        case.root)
    other.write_marker(Marker(case.target.name, "m-other", time.time()))  # another disk's marker
    other.close()
    with pytest.raises(TargetDown, match="different target"):
        case.target.prove_identity()
    assert case.raw(b"a.pdf") == b"proven"


def test_replace_without_keeping(ready):
    _put(ready.target, b"a.pdf", b"old")
    _put(ready.target, b"a.pdf", b"new")
    assert b"".join(ready.target.open_read(b"a.pdf")) == b"new"


@pytest.mark.parametrize("key", UNSAFE, ids=[repr(k)[2:-1][:24] or "empty" for k in UNSAFE])
def test_unsafe_keys_refused(ready, key):
    with pytest.raises(UnsafeKey):
        check_key(key)
    with pytest.raises(UnsafeKey):
        ready.target.put(key, [b"evil"], 0, None)
    with pytest.raises(UnsafeKey):
        ready.target.checksum(key)
    with pytest.raises(UnsafeKey):
        b"".join(ready.target.open_read(key))
    assert set(ready.target.list_keys()) == set()


def test_failed_put_leaves_nothing_under_the_final_name(ready):
    _put(ready.target, b"doc.pdf", b"the good copy")

    def broken():
        yield b"x" * 100_000
        raise OSError(5, "Input/output error")

    with pytest.raises(Exception):
        ready.target.put(b"doc.pdf", broken(), 0, None)
    with pytest.raises(Exception):
        ready.target.put(b"new/doc.pdf", broken(), 0, None)
    assert ready.raw(b"doc.pdf") == b"the good copy"
    assert ready.raw(b"new/doc.pdf") is None
    assert set(ready.target.list_keys()) == {b"doc.pdf"}


def test_manifest_round_trip(ready):
    assert list(ready.target.read_manifest()) == []
    first = [_entry(b"a.pdf", 1), _entry(b"\xff/b.pdf", 1)]
    second = [_entry(b"a.pdf", 2)]
    ready.target.append_manifest(first)
    ready.target.append_manifest([])
    ready.target.append_manifest(second)
    assert list(ready.target.read_manifest()) == first + second
    assert set(ready.target.list_keys()) == set()  # the manifest is not data


def test_temporaries_removed(ready):
    _put(ready.target, b"w/kept.pdf", b"data")
    ready.plant_temporary(b"w")
    ready.plant_temporary(b"")
    assert set(ready.target.list_keys()) == {b"w/kept.pdf"}
    assert ready.target.remove_temporaries() >= 2
    assert not [n for n in ready.names() if TEMP_PREFIX in n]
    assert ready.target.remove_temporaries() == 0
    assert ready.raw(b"w/kept.pdf") == b"data"


def test_clean_up_leaves_the_temporaries_of_a_live_run(ready):
    """A start-up removes what its earlier runs left, never what a live process is still writing."""
    _put(ready.target, b"w/kept.pdf", b"data")
    ready.plant_temporary(b"w", tag="11111111")
    ready.plant_temporary(b"w", tag="22222222")
    ready.plant_temporary(b"")
    assert ready.target.remove_temporaries(keep={"11111111"}) >= 2
    left = [n for n in ready.names() if TEMP_PREFIX in n]
    assert left and all(b"11111111" in n for n in left), left
    assert ready.target.remove_temporaries() >= 1
    assert not [n for n in ready.names() if TEMP_PREFIX in n]


def test_list_keys_is_exactly_the_data(ready):
    keys = {b"a", b"b/c", b"b/d/e.pdf", b"\xfe"}
    for key in keys:
        _put(ready.target, key, key)
    _put(ready.target, b"a", b"again", keep=version_key(b"a", 1))
    ready.target.append_manifest([_entry(b"a", 1)])
    assert set(ready.target.list_keys()) == keys


def _entry(key: bytes, version: int) -> ManifestEntry:
    return ManifestEntry(key=key, version=version, size=3, sha256="ab" * 32, mtime_ns=1_700_000_000 * 10**9,
                         replicated_at=time.time())


class _CountingReads:
    """The real target, with open_read counting how many replicas are read at once. The first read waits
    (bounded) for a second one to start: a restore that reads one file at a time shows a peak of 1."""

    def __init__(self, target):
        self.target = target
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.second = threading.Event()

    def __getattr__(self, name):
        return getattr(self.target, name)

    def open_read(self, key: bytes):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            first = self.peak == 1 and self.now == 1
            if self.now >= 2:
                self.second.set()
        try:
            if first:
                self.second.wait(5.0)
            yield from self.target.open_read(key)
        finally:
            with self.lock:
                self.now -= 1


def test_restore_reads_several_replicas_at_once_and_syncs_every_folder_on_the_way(ready, tmp_path, monkeypatch):
    """Restore overlaps its files' fetches and fsyncs (4 at a time), and still every byte is checked and
    every folder it renamed into, and each new folder above it, is fsynced before it reports."""
    files = {b"w/a/b/f%d.pdf" % i: random_bytes(20_000 + i) for i in range(6)}
    files[b"w/top.pdf"] = random_bytes(1234)
    for key, data in files.items():
        _put(ready.target, key, data)
    entries = [ManifestEntry(key=key, version=1, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                             mtime_ns=1_700_000_000 * 10**9, replicated_at=time.time())
               for key, data in files.items()]
    ready.target.append_manifest(entries)
    synced = []
    real_fsync_dir = restore_module._fsync_dir
    monkeypatch.setattr(restore_module, "_fsync_dir", lambda path: (synced.append(path), real_fsync_dir(path)))
    counting = _CountingReads(ready.target)
    dest = os.fsencode(tmp_path / "restored")
    report = restore_module.restore(counting, dest, restore_module.select_versions(counting.read_manifest()))
    assert report.restored == len(files) and not report.failed, report
    for key, data in files.items():  # one watch: restored without the watch's name
        assert open(os.path.join(dest, key.partition(b"/")[2]), "rb").read() == data
    assert counting.peak >= 2, "restore read one replica at a time"
    assert {dest, dest + b"/a", dest + b"/a/b"} <= set(synced), synced
    assert len(synced) == len(set(synced)), "each folder is fsynced once, not once per file"

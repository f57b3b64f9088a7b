"""Small pure pieces: the throttle, S3 object names and prefixes."""

from __future__ import annotations

import sys

import pytest

from replication.s3.keys import ObjectNames, check_prefix, decode_key, encode_key
from replication.throttle import Throttle


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def test_throttle_allows_a_burst_then_paces():
    clock = FakeClock()
    throttle = Throttle(1000, clock=clock, sleep=clock.sleep)
    throttle.take(1000)
    assert clock.slept == 0
    for _ in range(10):
        throttle.take(500)
    assert clock.slept == pytest.approx(5.0)


def test_throttle_off():
    clock = FakeClock()
    throttle = Throttle(None, clock=clock, sleep=clock.sleep)
    assert list(throttle.chunks([b"a" * 10**6] * 5)) == [b"a" * 10**6] * 5
    assert clock.slept == 0


@pytest.mark.parametrize("key", [b"plain/a.pdf", b"\xff\xfe", b"100% sure", b"%41", b"tab\there",
                                 "ünïcode/é".encode(), b"\xc3", bytes(range(1, 256))])
def test_object_names_round_trip(key):
    name = encode_key(key)
    name.encode("utf-8")  # always valid UTF-8
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    assert decode_key(name) == key


def test_readable_names_stay_readable():
    assert encode_key("proposals/2024/é.pdf".encode()) == "proposals/2024/é.pdf"


@pytest.mark.parametrize("prefix,expected", [("", ""), ("/", ""), ("jaga", "jaga/"), ("/a/b/", "a/b/")])
def test_prefixes(prefix, expected):
    assert check_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["a/../b", "..", "a//b", "./a"])
def test_bad_prefixes(prefix):
    with pytest.raises(ValueError):
        ObjectNames(prefix)


def test_a_large_replica_is_read_back_window_by_window_and_must_match(tmp_path):
    """Several read-back windows, checked on the second thread, and a disk that returns other bytes
    is caught before the rename."""
    import os
    from replication.local import readback
    data = [os.urandom(1 << 20) for _ in range(40)]  # 40 MiB: more than two windows
    fd = os.open(tmp_path / "ok", os.O_RDWR | os.O_CREAT)
    readback.write_verified(fd, iter(data), None)
    os.close(fd)
    assert (tmp_path / "ok").read_bytes() == b"".join(data)

    original = readback._pread_all
    readback._pread_all = lambda fd, n, pos: original(fd, n, pos)[:-1] + b"?"  # the disk lies
    try:
        fd = os.open(tmp_path / "bad", os.O_RDWR | os.O_CREAT)
        with pytest.raises(readback.ReadBackMismatch):
            readback.write_verified(fd, iter(data), None)
    finally:
        readback._pread_all = original
        os.close(fd)


def test_a_replica_longer_than_the_bytes_written_is_caught_by_the_read_back(tmp_path):
    """The size is proven by the read back itself (one byte past the end is asked for): a temporary
    that already held more bytes keeps its tail, and must not pass."""
    import os
    from replication.local import readback
    path = tmp_path / "longer"
    path.write_bytes(b"x" * 5000)
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(readback.ReadBackMismatch, match="end of the replica"):
            readback.write_verified(fd, iter([b"y" * 4000]), None)
    finally:
        os.close(fd)


def test_a_small_replica_whose_disk_returns_other_bytes_or_fewer_is_caught(tmp_path, monkeypatch):
    import os
    from replication.local import readback
    real_pread = os.pread
    for lie in (lambda got: got[:-1] + b"?", lambda got: got[:-1]):
        monkeypatch.setattr(os, "pread", lambda fd, n, pos, lie=lie: lie(real_pread(fd, n, pos)))
        fd = os.open(tmp_path / "small", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        try:
            with pytest.raises(readback.ReadBackMismatch):
                readback.write_verified(fd, iter([os.urandom(3000), os.urandom(100)]), None)
        finally:
            os.close(fd)


def test_a_source_read_twice_gives_the_same_bytes_and_one_that_grew_while_open_is_refused(tmp_path):
    import os
    from replication.source import CHUNK, SourceChanged, SourceFile
    for size in (0, 3000, CHUNK, CHUNK + 7):
        data = os.urandom(size)
        (tmp_path / "f").write_bytes(data)
        st = os.stat(tmp_path / "f")
        with SourceFile(bytes(tmp_path), b"f", st.st_size, st.st_mtime_ns, None) as source:
            digest = source.read_hash()
            assert b"".join(source.chunks()) == data and source.sha256 == digest  # the second pass from the top
        with SourceFile(bytes(tmp_path), b"f", st.st_size, st.st_mtime_ns, None) as source:
            with open(tmp_path / "f", "ab") as more:
                more.write(b"appended while open")
            os.utime(tmp_path / "f", ns=(st.st_mtime_ns, st.st_mtime_ns))  # even with its mtime put back
            with pytest.raises(SourceChanged):
                b"".join(source.chunks())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range(2) is Linux's")
def test_a_windows_pages_are_written_back_by_range_on_linux(tmp_path):
    """The read-back waits for its own window's pages only (sync_file_range), not for the window being
    written meanwhile (an fdatasync would): the call must be found, and it must take a real file."""
    import ctypes
    import os
    from replication.local import readback
    call = readback._sync_file_range()
    assert call is not None, "sync_file_range not found: every window would wait for an fdatasync"
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"x" * 8192)
        assert call(fd, ctypes.c_int64(0), ctypes.c_int64(8192), ctypes.c_uint(readback._WAIT)) == 0
    finally:
        os.close(fd)

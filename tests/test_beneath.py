"""openat2 as the folder walks' fast path: one call for a plain path, None (walk it) for anything else."""

from __future__ import annotations

import os

import pytest

from common import beneath

pytestmark = pytest.mark.skipif(not beneath.available(), reason="openat2 not available (Linux < 5.6 or a seccomp filter)")
DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "file").write_bytes(b"bytes")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"not yours")
    root = tmp_path / "root"
    root.mkdir()
    os.rename(tmp_path / "a", root / "a")
    (root / "link-folder").symlink_to(tmp_path / "outside")
    (root / "a" / "link-file").symlink_to(root / "a" / "b" / "file")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    yield root, fd
    os.close(fd)


def test_a_plain_path_below_the_folder_opens_in_one_call(tree):
    root, fd = tree
    got = beneath.open_beneath(fd, b"a/b/file", os.O_RDONLY | os.O_NOFOLLOW)
    assert got is not None
    try:
        assert os.fstat(got).st_ino == os.stat(root / "a" / "b" / "file").st_ino
        assert os.read(got, 100) == b"bytes"
    finally:
        os.close(got)
    folder = beneath.open_beneath(fd, b"a/b", DIR)
    assert folder is not None and os.fstat(folder).st_ino == os.stat(root / "a" / "b").st_ino
    os.close(folder)


@pytest.mark.parametrize("path", [b"link-folder/secret", b"a/link-file", b"../outside/secret",
                                  b"a/../../outside/secret", b"/etc/passwd", b"a/missing", b"a/b/file/x", b"",
                                  b"a/b/file\0ignored"])
def test_a_symlink_on_the_way_a_way_out_or_a_path_that_is_not_there_is_left_to_the_walk(tree, path):
    _root, fd = tree
    assert beneath.open_beneath(fd, path, os.O_RDONLY | os.O_NOFOLLOW) is None


def test_a_file_where_a_folder_is_wanted_is_left_to_the_walk(tree):
    _root, fd = tree
    assert beneath.open_beneath(fd, b"a/b/file", DIR) is None

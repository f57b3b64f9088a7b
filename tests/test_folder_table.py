"""The watch table's folders-below lookup: a folder moved takes exactly its own subtree's watches along."""

from ingest.watcher import _FolderTable


def table(*folders: bytes) -> _FolderTable:
    folders_table = _FolderTable()
    for wd, folder in enumerate(folders, start=1):
        folders_table[folder] = wd
    return folders_table


def test_a_folder_and_its_subfolders_are_below_it_and_no_sibling_sharing_its_prefix():
    t = table(b"", b"a", b"a/b", b"a/b/c", b"a b", b"a-b", b"a0", b"ab", b"b", b"a/\xff")
    assert sorted(t.below(b"a")) == [(b"a", 2), (b"a/b", 3), (b"a/b/c", 4), (b"a/\xff", 10)]
    assert t.below(b"a/b") == [(b"a/b", 3), (b"a/b/c", 4)]
    assert t.below(b"b") == [(b"b", 9)]
    assert sorted(t.below(b"")) == sorted(t.items())
    assert not hasattr(t, "pop") and not hasattr(t, "setdefault")  # nothing that would skip the order


def test_a_folder_no_longer_watched_is_not_below_anything_and_one_watched_again_is():
    t = table(b"a", b"a/b", b"a/c")
    del t[b"a/b"]
    assert t.below(b"a") == [(b"a", 1), (b"a/c", 3)]
    del t[b"a"]
    assert b"a" not in t and t.get(b"a") is None
    assert t.below(b"a") == [(b"a/c", 3)]  # a subfolder still watched though its parent's watch went
    t[b"a/b"] = 7
    t[b"a/b"] = 8  # named again: one entry, the newest wd
    assert t.below(b"a") == [(b"a/b", 8), (b"a/c", 3)]
    t.clear()
    assert t.below(b"a") == [] and t.below(b"") == []

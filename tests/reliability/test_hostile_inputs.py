"""Hostile inputs, table-driven: each case does something nasty inside the watched tree of a running daemon,
then says what must be verified, what must be recorded as skipped (and why), and what must never appear in
the replica. Every case also writes an ordinary file afterwards (the daemon must still be working) and ends
with the invariant checker."""

from __future__ import annotations

import os
import socket
import stat
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness import temporaries, write_file
from tests.invariants import assert_all_replicated
from tests.reliability.rig import require, root_reason, wait_for
from tests.shims import ReadGate, read_gate

BIG = 24_000_000  # more than one read chunk: the gate holds the copy after the first


@dataclass
class Ctx:
    d: object
    top: bytes        # the case's folder name, relative to the watch
    root: bytes       # absolute path of that folder
    outside: Path     # a folder outside every watch and target
    gate: ReadGate | None = None   # holds the copy of the case's ``during_copy`` file

    def rel(self, *parts) -> bytes:
        return b"/".join([self.top, *[p if isinstance(p, bytes) else p.encode() for p in parts]])

    def path(self, *parts) -> bytes:
        return os.path.join(os.fsencode(self.d.uploads), self.rel(*parts))

    def write(self, rel_parts, data: bytes) -> bytes:
        parts = rel_parts if isinstance(rel_parts, tuple) else (rel_parts,)
        write_file(self.path(*parts), data)
        return self.rel(*parts)

    def verified(self, *rels: bytes) -> None:
        wait_for(lambda: self.d.all_verified(rels), timeout=30, message=f"{rels!r} verified")

    @contextmanager
    def in_copy(self):
        """The body runs while the copy of the case's ``during_copy`` file is held after its first chunk
        (its temporary already on the target); then the copy goes on."""
        wait_for(self.gate.paused, timeout=30, message="the copy paused after its first chunk")
        assert temporaries(self.d.replica) != [], "the copy is in flight: its temporary is on the target"
        try:
            yield
        finally:
            self.gate.release()


def during_copy(*parts: str):
    """Marks a case whose fault must land while ``parts`` (below the case's folder) is being copied."""
    def mark(case):
        case.during_copy = parts
        return case
    return mark


@dataclass
class Expect:
    verified: list[bytes] = field(default_factory=list)
    skipped: dict[bytes, str] = field(default_factory=dict)
    absent: list[bytes] = field(default_factory=list)


def skip_reasons(d) -> dict[bytes, str]:
    return {bytes(p): r for p, r in d.journal_rows("SELECT path, reason FROM skips")}


# -- the cases -------------------------------------------------------------------------------------

def symlink_to_file_outside(c: Ctx) -> Expect:
    secret = c.outside / "secret.txt"
    secret.write_bytes(b"not for the replica")
    os.symlink(secret, c.path("link.pdf"))
    return Expect(skipped={c.rel("link.pdf"): "symlink"}, absent=[c.rel("link.pdf")])


def symlink_to_dir_outside(c: Ctx) -> Expect:
    (c.outside / "dir").mkdir()
    (c.outside / "dir" / "inner.pdf").write_bytes(b"outside")
    os.symlink(c.outside / "dir", c.path("linkdir"))
    return Expect(skipped={c.rel("linkdir"): "symlink"}, absent=[c.rel("linkdir"), c.rel("linkdir", "inner.pdf")])


def symlink_loop_pair(c: Ctx) -> Expect:
    os.symlink(b"loop-b", c.path("loop-a"))
    os.symlink(b"loop-a", c.path("loop-b"))
    return Expect(skipped={c.rel("loop-a"): "symlink", c.rel("loop-b"): "symlink"})


def symlink_to_itself(c: Ctx) -> Expect:
    os.symlink(b"self", c.path("self"))
    return Expect(skipped={c.rel("self"): "symlink"}, absent=[c.rel("self")])


def symlink_dir_loop_to_parent(c: Ctx) -> Expect:
    os.makedirs(c.path("a", "b"))
    c.write(("a", "b", "real.pdf"), b"real")
    os.symlink(b"../..", c.path("a", "b", "up"))  # a walk that followed links would never end
    return Expect(verified=[c.rel("a", "b", "real.pdf")], skipped={c.rel("a", "b", "up"): "symlink"},
                  absent=[c.rel("a", "b", "up")])


def dangling_symlink(c: Ctx) -> Expect:
    os.symlink(b"/nonexistent/nowhere.pdf", c.path("dangling.pdf"))
    return Expect(skipped={c.rel("dangling.pdf"): "symlink"}, absent=[c.rel("dangling.pdf")])


def symlink_to_file_inside(c: Ctx) -> Expect:
    real = c.write("real.pdf", b"the real one")
    os.symlink(b"real.pdf", c.path("alias.pdf"))
    return Expect(verified=[real], skipped={c.rel("alias.pdf"): "symlink"}, absent=[c.rel("alias.pdf")])


@during_copy("sub", "big.bin")
def folder_swapped_for_symlink_during_copy(c: Ctx) -> Expect:
    """A folder replaced by a symlink to the outside while its big file is being copied."""
    secret = c.outside / "sub"
    secret.mkdir()
    (secret / "big.bin").write_bytes(b"S" * 1000)
    c.write(("sub", "big.bin"), os.urandom(BIG))
    with c.in_copy():
        os.rename(c.path("sub"), c.path("moved"))
        os.symlink(secret, c.path("sub"))
    return Expect(verified=[c.rel("moved", "big.bin")], skipped={c.rel("sub"): "symlink"})


def fifo(c: Ctx) -> Expect:
    os.mkfifo(c.path("pipe.pdf"))
    return Expect(skipped={c.rel("pipe.pdf"): "fifo"}, absent=[c.rel("pipe.pdf")])


def fifo_with_a_writer_waiting(c: Ctx) -> Expect:
    os.mkfifo(c.path("blocked.pdf"))
    fd = os.open(c.path("blocked.pdf"), os.O_RDWR | os.O_NONBLOCK)  # someone holds it open
    os.write(fd, b"data in the pipe")
    c.cleanup.append(lambda: os.close(fd))
    return Expect(skipped={c.rel("blocked.pdf"): "fifo"}, absent=[c.rel("blocked.pdf")])


def unix_socket(c: Ctx) -> Expect:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(c.path("sock.pdf"))
    c.cleanup.append(sock.close)
    return Expect(skipped={c.rel("sock.pdf"): "socket"}, absent=[c.rel("sock.pdf")])


def char_device(c: Ctx) -> Expect:
    os.mknod(c.path("zero.pdf"), stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: reading never ends
    return Expect(skipped={c.rel("zero.pdf"): "device"}, absent=[c.rel("zero.pdf")])


def block_device(c: Ctx) -> Expect:
    os.mknod(c.path("disk.pdf"), stat.S_IFBLK | 0o600, os.makedev(7, 200))
    return Expect(skipped={c.rel("disk.pdf"): "device"}, absent=[c.rel("disk.pdf")])


def fifo_replaced_by_a_file(c: Ctx) -> Expect:
    os.mkfifo(c.path("x.pdf"))
    wait_for(lambda: skip_reasons(c.d).get(c.rel("x.pdf")) == "fifo", message="fifo skipped first")
    os.unlink(c.path("x.pdf"))
    return Expect(verified=[c.write("x.pdf", b"now a file")])


def unreadable_mode_000(c: Ctx) -> Expect:
    rel = c.write("locked.pdf", b"mode 000")
    os.chmod(c.path("locked.pdf"), 0)  # root (as in CI) still reads it: it must be replicated
    return Expect(verified=[rel])


def inside_a_mode_000_folder(c: Ctx) -> Expect:
    rel = c.write(("closed", "in.pdf"), b"in a closed folder")
    os.chmod(c.path("closed"), 0)
    c.cleanup.append(lambda: os.chmod(c.path("closed"), 0o755))
    return Expect(verified=[rel])


def name(raw: bytes):
    def case(c: Ctx) -> Expect:
        return Expect(verified=[c.write(raw, b"content of " + raw)])
    case.__name__ = "name"
    return case


def long_path_near_path_max(c: Ctx) -> Expect:
    parts = tuple(bytes([ord("a") + i]) * 250 for i in range(12)) + (b"f" * 255,)
    return Expect(verified=[c.write(parts, b"deep and long")])


def hundred_levels_deep(c: Ctx) -> Expect:
    parts = tuple(b"d%03d" % i for i in range(100)) + (b"bottom.pdf",)
    return Expect(verified=[c.write(parts, b"bottom")])


def unicode_nfc_and_nfd_twins(c: Ctx) -> Expect:
    nfc = unicodedata.normalize("NFC", "proposal-\u00e9t\u00e9.pdf").encode()
    nfd = unicodedata.normalize("NFD", "proposal-\u00e9t\u00e9.pdf").encode()
    assert nfc != nfd
    return Expect(verified=[c.write(nfc, b"composed"), c.write(nfd, b"decomposed")])


def case_only_twins(c: Ctx) -> Expect:
    return Expect(verified=[c.write("Scan.PDF", b"upper"), c.write("scan.pdf", b"lower")])


def empty_file(c: Ctx) -> Expect:
    return Expect(verified=[c.write("empty.pdf", b"")])


def hard_links(c: Ctx) -> Expect:
    first = c.write("one.pdf", b"one inode, two names")
    os.link(c.path("one.pdf"), c.path("two.pdf"))
    return Expect(verified=[first, c.rel("two.pdf")])


def sparse_file(c: Ctx) -> Expect:
    with open(c.path("sparse.bin"), "wb") as handle:
        handle.truncate(64 << 20)
        handle.seek(32 << 20)
        handle.write(b"middle")
    return Expect(verified=[c.rel("sparse.bin")])


def odd_mtimes(c: Ctx) -> Expect:
    old = c.write("epoch.pdf", b"from 1970")
    os.utime(c.path("epoch.pdf"), ns=(0, 0))
    future = c.write("future.pdf", b"from 2200")
    os.utime(c.path("future.pdf"), (7_258_118_400, 7_258_118_400))
    return Expect(verified=[old, future])


def ignored_and_spoofed_names(c: Ctx) -> Expect:
    for n in ("x.part", "x.tmp", ".hidden", ".jaga-tmp-0123456789abcdef", ".jaga-target"):
        c.write(n, b"must not be replicated")
    c.write((".jaga", "versions", "spoof"), b"must not be replicated")
    rels = [c.rel(n) for n in ("x.part", "x.tmp", ".hidden", ".jaga-tmp-0123456789abcdef", ".jaga-target")]
    return Expect(absent=rels + [c.rel(".jaga", "versions", "spoof")])


@during_copy("t.bin")
def truncated_during_copy(c: Ctx) -> Expect:
    c.write("t.bin", os.urandom(BIG))
    with c.in_copy(), open(c.path("t.bin"), "r+b") as handle:
        handle.truncate(1000)
    return Expect(verified=[c.rel("t.bin")])


@during_copy("r.bin")
def replaced_during_copy(c: Ctx) -> Expect:
    c.write("r.bin", os.urandom(BIG))
    with c.in_copy():
        c.write("r.bin.part", b"the replacement")
        os.replace(c.path("r.bin.part"), c.path("r.bin"))
    return Expect(verified=[c.rel("r.bin")])


@during_copy("o.bin")
def overwritten_in_place_during_copy(c: Ctx) -> Expect:
    c.write("o.bin", os.urandom(BIG))
    with c.in_copy(), open(c.path("o.bin"), "r+b") as handle:
        handle.seek(BIG // 2)
        handle.write(b"X" * 4096)  # same size; only mtime and content change
    return Expect(verified=[c.rel("o.bin")])


def growing_during_copy(c: Ctx) -> Expect:
    with open(c.path("g.log"), "wb") as handle:
        for _ in range(20):
            handle.write(os.urandom(1_000_000))
            handle.flush()
            time.sleep(0.05)
    return Expect(verified=[c.rel("g.log")])


@during_copy("gone.bin")
def deleted_during_copy(c: Ctx) -> Expect:
    c.write("gone.bin", os.urandom(BIG))
    with c.in_copy():
        os.unlink(c.path("gone.bin"))
    return Expect(absent=[])  # nothing to keep; the daemon must not wedge on it (see the sentinel)


def rename_storm(c: Ctx) -> Expect:
    current = c.write("storm-000.pdf", b"renamed 300 times")
    for i in range(1, 301):
        os.rename(c.path(f"storm-{i - 1:03d}.pdf"), c.path(f"storm-{i:03d}.pdf"))
    return Expect(verified=[current.replace(b"000", b"300")])


def folder_rename_storm(c: Ctx) -> Expect:
    for i in range(5):
        c.write(("f000", f"{i}.pdf"), b"%d" % i)
    for i in range(1, 101):
        os.rename(c.path(f"f{i - 1:03d}"), c.path(f"f{i:03d}"))
    return Expect(verified=[c.rel("f100", f"{i}.pdf") for i in range(5)])


def directory_replaced_by_file(c: Ctx) -> Expect:
    c.write(("thing", "inner.pdf"), b"inside a folder")
    c.verified(c.rel("thing", "inner.pdf"))
    os.unlink(c.path("thing", "inner.pdf"))
    os.rmdir(c.path("thing"))
    return Expect(verified=[c.write("thing", b"now a file with the folder's name")])


def file_replaced_by_directory(c: Ctx) -> Expect:
    c.write("thing", b"a file first")
    c.verified(c.rel("thing"))
    os.unlink(c.path("thing"))
    return Expect(verified=[c.write(("thing", "inner.pdf"), b"now a folder")])


def many_small_files_in_one_burst(c: Ctx) -> Expect:
    return Expect(verified=[c.write(f"b{i:04d}.pdf", b"%d" % i) for i in range(500)])


CASES = [
    symlink_to_file_outside, symlink_to_dir_outside, symlink_loop_pair, symlink_to_itself,
    symlink_dir_loop_to_parent, dangling_symlink, symlink_to_file_inside, folder_swapped_for_symlink_during_copy,
    fifo, fifo_with_a_writer_waiting, unix_socket, char_device, block_device, fifo_replaced_by_a_file,
    unreadable_mode_000, inside_a_mode_000_folder,
    ("name_latin1", name(b"caf\xe9-latin1.pdf")), ("name_raw_ff", name(b"\xff\xfe\x80.pdf")),
    ("name_newline", name(b"line\nbreak.pdf")), ("name_leading_dash", name(b"-rf --no-preserve-root")),
    ("name_255_ascii", name(b"n" * 255)), ("name_255_utf8", name(("\u6587" * 85).encode())),
    ("name_spaces_only", name(b"   ")), ("name_shell_quotes", name(b"a\\b\"c'd*?$(x)`y`;|&.pdf")),
    ("name_control_chars", name(b"\x01\x1b[31mred\x7f.pdf")),
    long_path_near_path_max, hundred_levels_deep, unicode_nfc_and_nfd_twins, case_only_twins, empty_file,
    hard_links, sparse_file, odd_mtimes, ignored_and_spoofed_names,
    truncated_during_copy, replaced_during_copy, overwritten_in_place_during_copy, growing_during_copy,
    deleted_during_copy, rename_storm, folder_rename_storm, directory_replaced_by_file,
    file_replaced_by_directory, many_small_files_in_one_burst,
]
ROOT_ONLY = {"char_device", "block_device", "unreadable_mode_000", "inside_a_mode_000_folder"}
TABLE = [case if isinstance(case, tuple) else (case.__name__, case) for case in CASES]
assert len(TABLE) >= 30


@pytest.mark.parametrize("case_id,case", TABLE, ids=[case_id for case_id, _ in TABLE])
def test_hostile_input(rig, case_id, case):
    if case_id in ROOT_ONLY:
        require(root_reason())
    d = rig.deployment(settle="300ms")
    outside = rig.base / "outside"
    outside.mkdir()
    top = case_id.encode()
    (d.uploads / case_id).mkdir()
    c = Ctx(d, top, os.path.join(os.fsencode(d.uploads), top), outside)
    gated = getattr(case, "during_copy", None)
    if gated:
        c.gate = read_gate(rig.base, Path(os.fsdecode(c.path(*gated))))
        require(None if c.gate else "no C compiler to hold a copy in flight (.ci/run installs gcc, libc6-dev)")
    d.start(env=c.gate.environ() if c.gate else None)
    c.cleanup = []
    try:
        expect = case(c)
        if gated:
            wait_for(lambda: d.logged(gated[-1], "during the copy", "observing it again"), timeout=30,
                     message=f"{case_id}: the change noticed by the copy in flight")
        sentinel = c.write("zz-after.pdf", b"the daemon is still working")
        wanted = expect.verified + [sentinel]
        wait_for(lambda: d.all_verified(wanted), timeout=60, interval=0.2,
                 message=f"{case_id}: {len(wanted)} file(s) verified")
        if expect.skipped:
            wait_for(lambda: all(skip_reasons(d).get(rel) == reason for rel, reason in expect.skipped.items()),
                     timeout=30, message=f"{case_id}: skips recorded {expect.skipped} (got {skip_reasons(d)})")
        for rel in expect.skipped:
            assert not d.journal_rows("SELECT 1 FROM files WHERE path = ?", (rel,)), f"{rel!r} journaled"
        for rel in expect.absent:
            replica = os.path.join(os.fsencode(d.replica_data), rel)
            assert not os.path.lexists(replica), f"{rel!r} must not be in the replica"
        assert d.http("/healthz")[0] == 200
        # a copy of a file deleted under it ends (and removes its temporary) a moment after the
        # journal calls that replica superseded
        wait_for(lambda: d.open_replicas() == 0 and not temporaries(d.replica), timeout=30,
                 message=f"{case_id}: nothing left open")
        assert_all_replicated(d)
    finally:
        for undo in c.cleanup:
            undo()

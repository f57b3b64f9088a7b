"""I/O errors on demand: libfiu makes write, fsync and rename fail at random (EIO, then ENOSPC) inside the
running daemon while files stream; once the faults stop, everything drains and nothing torn is verified.

Failpoints are process-wide: they hit the journal (SQLite's fsync/fdatasync) and logging as well as the
replica writes, which is the point. libfiu's preload wraps ``rename()`` but not ``renameat()``, and the
local target renames with ``renameat`` (``os.rename(..., src_dir_fd=...)``), so a small preload shim
(compiled here when a C compiler is present) adds a ``jaga/posix/renameat`` failpoint that fiu-ctrl
drives like the others.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.harness import sha256_file
from tests.invariants import assert_all_replicated, assert_verified_means_identical
from tests.reliability.rig import binary_reason, require, wait_for
from tests.shims import compile_preload
from tests.skip_policy import degraded

FIU_LIB = "/usr/lib/fiu"
FAILPOINTS = ["posix/io/rw/write", "posix/io/sync/fsync", "posix/io/sync/fdatasync", "posix/io/dir/rename"]
RENAMEAT = "jaga/posix/renameat"

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
extern int fiu_fail(const char *name) __attribute__((weak));
extern void *fiu_failinfo(void) __attribute__((weak));
typedef int (*renameat_t)(int, const char *, int, const char *);
int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    static renameat_t real;
    if (!real) real = (renameat_t) dlsym(RTLD_NEXT, "renameat");
    if (fiu_fail && fiu_fail("jaga/posix/renameat")) {
        long info = (long) fiu_failinfo();
        errno = info ? (int) info : EIO;
        return -1;
    }
    return real(olddirfd, oldpath, newdirfd, newpath);
}
"""


def diagnose(d, written: list[bytes]) -> str:
    """What is stuck, for the failure message: replica states and uploads the journal never recorded."""
    states = dict(d.journal_rows("SELECT state, count(*) FROM replicas GROUP BY state"))
    known = {bytes(p) for (p,) in d.journal_rows("SELECT path FROM files")}
    unrecorded = [rel for rel in written if rel not in known]
    stuck = d.journal_rows("SELECT f.path, r.attempts, r.last_error FROM replicas r JOIN versions v ON "
                           "v.id = r.version_id JOIN files f ON f.id = v.file_id WHERE r.state = 'copying'")
    return (f"replica states: {states}; {len(unrecorded)} upload(s) never journaled: {unrecorded[:10]}; "
            f"replicas left in 'copying' with nothing in flight: {[(bytes(p), a, e) for p, a, e in stuck][:10]}")


def fiu_ctrl(ctl, pid: int, command: str) -> None:
    result = subprocess.run(["fiu-ctrl", "-f", str(ctl), "-c", command, str(pid)], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 0 and "error" not in result.stdout, (command, result.stdout, result.stderr)


@pytest.mark.parametrize("errno_", [5, 28], ids=["EIO", "ENOSPC"])
def test_random_write_fsync_rename_errors_while_streaming_then_drain(rig, errno_):
    require(binary_reason("fiu-run", "fiu-ctrl"))
    if not os.path.exists(f"{FIU_LIB}/fiu_posix_preload.so"):
        pytest.skip(f"{FIU_LIB}/fiu_posix_preload.so missing (package fiu-utils)")
    d = rig.deployment(retry={"initial": "100ms", "maximum": "500ms"})
    ctl = rig.base / "fiu"
    failpoints = list(FAILPOINTS)
    wrapper = ["fiu-run", "-x", "-f", str(ctl)]
    shim = compile_preload(rig.base, "renameat_shim", SHIM)
    if shim:  # fiu-run sets LD_PRELOAD itself; add the shim after its two libraries
        wrapper += ["env", f"LD_PRELOAD={FIU_LIB}/fiu_run_preload.so {FIU_LIB}/fiu_posix_preload.so {shim}"]
        failpoints.append(RENAMEAT)
    else:
        degraded("no C compiler (gcc, libc6-dev): renameat() failures are not injected")
    d.start(wrapper=wrapper)
    pid = d.process.pid
    wait_for(lambda: os.path.exists(f"{ctl}-{pid}.in"), timeout=10, message="fiu control fifo")

    writer = rig.writer(d.uploads, count=400, rate=80, sizes=(2000, 200_000), seed=errno_)
    writer.start()
    wait_for(lambda: d.counter("jaga_replicas_verified_total", target="secondary") >= 20, timeout=30,
             message="replication under way before the faults")
    for name in failpoints:
        fiu_ctrl(ctl, pid, f"enable_random name={name},probability=0.2,failinfo={errno_}")
    try:
        wait_for(lambda: d.counter("jaga_replication_errors_total", target="secondary") >= 10, timeout=60,
                 interval=0.2, message="replication errors from the injected faults")
        written = writer.finish()
        # a healthy process under fire: still answering, and never calling a torn replica verified
        assert d.http("/healthz")[0] == 200
        assert_verified_means_identical(d, {"secondary": d.replica})
    finally:
        for name in failpoints:
            fiu_ctrl(ctl, pid, f"disable name={name}")

    try:
        wait_for(lambda: d.all_verified(written), timeout=90, interval=0.3,
                 message="everything verified once the faults stopped")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{diagnose(d, written)}") from None
    wait_for(lambda: d.pending_metric() == 0, timeout=30, message="pending metric back to 0")
    if shim:
        assert d.counter("jaga_replication_errors_total", target="secondary") > 0
    assert d.stop() == 0
    if binary_reason("sqlite3") is None:  # the sqlite3 shell: another reader than the daemon's own
        check = subprocess.run(["sqlite3", str(d.journal_path), "PRAGMA integrity_check"], capture_output=True,
                               text=True)
        assert check.stdout.strip() == "ok", check.stdout + check.stderr
    else:
        degraded("the sqlite3 shell is not installed: the journal is checked by Python's sqlite3 only")
    assert d.journal_rows("PRAGMA integrity_check") == [("ok",)]
    assert sha256_file(d.uploads / os.fsdecode(written[-1])) == sha256_file(
        d.replica_data / os.fsdecode(written[-1]))
    assert_all_replicated(d)

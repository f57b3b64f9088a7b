"""LD_PRELOAD shims for faults the kernel will not make on demand, compiled where a C compiler exists.

``read_gate``: the daemon's read() of one file stops at its second call (the first chunk is already on
its way to the target) until the test lets it go, so a test can change the file while a copy of it is
provably in flight. Start the daemon with ``gate.environ()``, wait for ``gate.paused()``, change the
file, then ``gate.release()``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

READ_GATE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
typedef ssize_t (*read_t)(int, void *, size_t);
static int calls, spent;
static int gated(int fd, const char *path) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    return strcmp(target, path) == 0;
}
ssize_t read(int fd, void *buf, size_t count) {
    static read_t real;
    if (!real) real = (read_t) dlsym(RTLD_NEXT, "read");
    const char *path = getenv("JAGA_GATE_PATH"), *dir = getenv("JAGA_GATE_DIR");
    if (path && dir && !__atomic_load_n(&spent, __ATOMIC_SEQ_CST) && gated(fd, path)
            && __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) == 2) {
        char marker[4200];
        __atomic_store_n(&spent, 1, __ATOMIC_SEQ_CST);
        snprintf(marker, sizeof marker, "%s/paused", dir);
        close(open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        snprintf(marker, sizeof marker, "%s/release", dir);
        while (access(marker, F_OK) != 0) usleep(10000);
    }
    return real(fd, buf, count);
}
"""


def compiler() -> str | None:
    return next((cc for cc in ("cc", "gcc", "clang") if shutil.which(cc)), None)


def compile_preload(folder: Path, name: str, source: str) -> str | None:
    """Build ``name``.so from C ``source`` in ``folder``; None where no C compiler is installed."""
    cc = compiler()
    if cc is None:
        return None
    (folder / f"{name}.c").write_text(source)
    library = folder / f"{name}.so"
    result = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", str(library), str(folder / f"{name}.c"), "-ldl"],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{cc} failed: {result.stdout}{result.stderr}"
    return str(library)


class ReadGate:
    """Holds the daemon's second read() of ``path`` until released (see the module docstring)."""

    def __init__(self, library: str, path: Path, folder: Path):
        self.library, self.path, self.folder = library, path, folder
        folder.mkdir(parents=True, exist_ok=True)

    def environ(self) -> dict[str, str]:
        return {"LD_PRELOAD": self.library, "JAGA_GATE_PATH": str(self.path), "JAGA_GATE_DIR": str(self.folder)}

    def paused(self) -> bool:
        return (self.folder / "paused").exists()

    def release(self) -> None:
        (self.folder / "release").touch()


def read_gate(folder: Path, path: Path) -> ReadGate | None:
    """A gate on ``path`` (built in ``folder``), or None where no C compiler is installed."""
    library = compile_preload(folder, "read_gate", READ_GATE)
    return ReadGate(library, path, folder / "gate") if library else None

"""``python -m bench.page_header [CODE_DIR ...]``: after a target's marker vanishes, the seconds until
the status page's row shows it down and until the header stops saying "All uploads are protected".
Each CODE_DIR is a jaga checkout to measure (default: this one), e.g. an older worktree for before
and after; the gap between the two figures is what the header lags behind the rows."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.harness import REPO, Deployment, wait_for

GOOD = b"All uploads are protected"


def measure(code_dir: Path, timeout: float = 120.0) -> tuple[float, float]:
    base = Path(tempfile.mkdtemp(prefix="bench-header-"))
    jaga = Deployment(base, targets=[{"name": "secondary", "type": "local", "path": "replica"},
                                     {"name": "offsite", "type": "local", "path": "offsite"}])
    jaga.start(env={"PYTHONPATH": str(code_dir)})
    try:
        wait_for(lambda: GOOD in jaga.http("/")[1], 60, message="the page all green")
        (base / "offsite" / ".jaga-target").unlink()
        started = time.monotonic()
        row = header = None
        while (row is None or header is None) and time.monotonic() - started < timeout:
            page = jaga.http("/")[1]
            now = time.monotonic() - started
            if row is None and b"data-target='offsite' data-up='false'" in page:
                row = now
            if header is None and GOOD not in page:
                header = now
            time.sleep(0.05)
        return row, header
    finally:
        jaga.stop()
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_header", description=__doc__)
    parser.add_argument("code", nargs="*", type=Path, default=[REPO], help="jaga checkouts to measure")
    args = parser.parse_args(argv)
    for code in args.code:
        row, header = measure(code.resolve())
        print(f"{code}: row shows the target down after {row:.1f} s, header changes after {header:.1f} s "
              f"(gap {header - row:.1f} s; load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

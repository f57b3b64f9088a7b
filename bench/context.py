"""What every workload needs: a scratch folder, the payload, and which jaga source tree to run.

The lead edits the daemon while benchmarks run; ``--rev`` pins the measured code to a commit by
exporting it (``git archive``) into the scratch folder, leaving the working tree alone.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bench.workload import Payload


@dataclass(frozen=True)
class Context:
    ws: Path          # scratch folder on a real disk
    payload: Payload
    source: Path      # the jaga tree the daemon runs from (its cwd, so its packages import first)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def export(repo: Path, rev: str, dest: Path) -> Path:
    """The tree of ``rev`` under ``dest`` (no .git, no venv): what a clean checkout would run."""
    data = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev], check=True,
                          capture_output=True).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def describe(repo: Path, rev: str | None) -> str:
    """A line for the report saying exactly which code was measured."""
    if rev:
        return f"git archive {rev} ({git(repo, 'rev-parse', '--short', rev)})"
    dirty = git(repo, "status", "--porcelain", "--untracked-files=no")
    return f"working tree at {git(repo, 'rev-parse', '--short', 'HEAD')}" + (" with local changes" if dirty else "")

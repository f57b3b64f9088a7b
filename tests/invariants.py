"""The one invariant every reliability test ends with."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from jaga.config import DEFAULT_IGNORE  # the daemon's own list: a new default pattern applies here too
from tests.harness import sha256_file, temporaries


def source_files(uploads: Path, ignore=DEFAULT_IGNORE) -> dict[bytes, Path]:
    found = {}
    root = os.fsencode(uploads)
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not _ignored(d, ignore)]
        for name in files:
            full = os.path.join(folder, name)
            if _ignored(name, ignore) or os.path.islink(full) or not os.path.isfile(full):
                continue
            found[os.path.relpath(full, root)] = Path(os.fsdecode(full))
    return found


def _ignored(name: bytes, patterns) -> bool:
    text = os.fsdecode(name)
    return any(fnmatch.fnmatch(text, p) for p in patterns)


def assert_all_replicated(deployment, replica_roots: dict[str, Path] | None = None) -> None:
    """Every source file has a verified, byte-identical replica on every target; no replica is marked
    verified whose bytes differ; no temporary file is left behind."""
    replica_roots = replica_roots or {"secondary": deployment.replica}
    sources = source_files(deployment.uploads, deployment.doc["watch"][0].get("ignore", DEFAULT_IGNORE))
    for target, root in replica_roots.items():
        data = root / deployment.watch_name
        for rel, path in sources.items():
            replica = Path(os.fsdecode(os.path.join(os.fsencode(data), rel)))
            assert replica.exists(), f"{target}: no replica of {rel!r}"
            assert sha256_file(path) == sha256_file(replica), f"{target}: replica of {rel!r} differs"
            assert deployment.is_verified(rel), f"{target}: {rel!r} not verified in the journal"
        assert temporaries(root) == [], f"{target}: temporary files left: {temporaries(root)}"
    assert_verified_means_identical(deployment, replica_roots)


def assert_verified_means_identical(deployment, replica_roots: dict[str, Path]) -> None:
    """Every replica the journal calls verified (newest version) has exactly the recorded hash."""
    rows = deployment.journal_rows(
        "SELECT f.path, v.sha256, r.target, f.deleted_at FROM replicas r JOIN versions v ON v.id = r.version_id "
        "JOIN files f ON f.id = v.file_id WHERE r.state = 'verified' AND v.number = f.current_version")
    for path, sha, target, deleted_at in rows:
        if target not in replica_roots:
            continue
        key = os.fsencode(deployment.watch_name) + b"/" + bytes(path)
        replica = os.path.join(os.fsencode(replica_roots[target]), key)
        if not os.path.isfile(replica) and deleted_at is not None:
            replica = _displaced(replica_roots[target], key) or replica  # moved aside for a new upload
        assert os.path.isfile(replica), f"{target}: verified {bytes(path)!r} is missing"
        assert sha256_file(replica) == sha, f"{target}: verified {bytes(path)!r} has other bytes"


def _displaced(root: Path, key: bytes) -> bytes | None:
    """A deleted file's replica that LocalTarget moved to .jaga/displaced/<time>/ (whole folders move)."""
    area = os.path.join(os.fsencode(root), b".jaga", b"displaced")
    for stamp in sorted(os.listdir(area)) if os.path.isdir(area) else []:
        candidate = os.path.join(area, stamp, key)
        if os.path.isfile(candidate):
            return candidate
    return None

"""What every client test needs: a daemon with two targets on an upload folder the client can write
into, and the one check every test ends with.

``assert_uploads_safe`` compares the final tree, every target (its files, its manifest, a restore
from it alone) and the journal's current files, and asserts: every finished upload seen, exactly one
version per finished upload, final bytes verified everywhere, every manifest entry restorable, no
temporary name journaled.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from jaga.config import load_config
from replication.factory import build_target
from tests.harness import Deployment, wait_for
from tests.invariants import source_files

TARGETS = ("secondary", "tertiary")


class ClientDeployment(Deployment):
    """A Deployment whose upload folder may live elsewhere (an sshd user's home), with two local targets."""

    def __init__(self, base: Path, uploads: Path | None = None, settle: str = "500ms", **kwargs):
        super().__init__(base, settle=settle, targets=[
            {"name": name, "type": "local", "path": f"replica-{name}"} for name in TARGETS], **kwargs)
        if uploads is not None:
            self.uploads = uploads
            self.uploads.mkdir(parents=True, exist_ok=True)
            self.doc["watch"][0]["path"] = str(uploads)
        self.doc["logging"] = {"level": "debug"}
        self.write_config()

    def replica_root(self, target: str) -> Path:
        return self.base / f"replica-{target}"

    def wait_verified(self, rels, timeout: float = 60.0) -> None:
        rels = list(rels)
        wait_for(lambda: all(self.is_verified(rel) for rel in rels), timeout=timeout, interval=0.1,
                 message=f"{len(rels)} upload(s) verified on every target (log: {self.log_tail(15)})")

    def versions_of(self, rel: bytes) -> list[tuple[int, str | None, int]]:
        """(number, sha256, replicas verified) of every version of ``rel``."""
        return [(number, sha, verified) for number, sha, verified in self.journal_rows(
            "SELECT v.number, v.sha256, sum(r.state = 'verified') FROM versions v JOIN files f ON f.id = v.file_id "
            "JOIN replicas r ON r.version_id = v.id WHERE f.path = ? GROUP BY v.id ORDER BY v.number", (rel,))]

    def current_files(self) -> dict[bytes, str | None]:
        return {bytes(path): sha for path, sha in self.journal_rows(
            "SELECT f.path, v.sha256 FROM files f JOIN versions v ON v.file_id = f.id "
            "AND v.number = f.current_version WHERE f.deleted_at IS NULL")}

    def journaled_paths(self) -> set[bytes]:
        """Every path the journal ever recorded, deleted or not."""
        return {bytes(path) for (path,) in self.journal_rows("SELECT path FROM files")}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def assert_uploads_safe(d: ClientDeployment, finished: dict[bytes, str], temporary: str | None = None,
                        single_version: bool = True) -> None:
    """``finished``: relative path → SHA-256 of every finished upload still in the tree.
    ``temporary``: a regex no journaled path may match (the client's temporary names); without it,
    the journal may hold no path but the finished uploads' (a client test knows all it wrote)."""
    d.wait_verified(finished)
    wait_for(lambda: _settled(d), timeout=30, interval=0.1, message="nothing pending, nothing in flight")
    if single_version:
        for rel in finished:
            replicated = [v for v in d.versions_of(rel) if v[2]]
            assert len(replicated) == 1, f"{rel!r}: {len(replicated)} replicated versions, expected 1: {replicated}"
    tree = {rel: file_sha256(path) for rel, path in source_files(d.uploads).items()}
    for rel, digest in finished.items():
        assert tree.get(rel) == digest, f"{rel!r}: the upload itself is not in the tree as sent"
    current = d.current_files()
    assert set(current) == set(tree), (f"journal's current files differ from the tree: missing "
                                       f"{sorted(set(tree) - set(current))[:5]}, extra {sorted(set(current) - set(tree))[:5]}")
    for rel, digest in tree.items():
        assert current[rel] == digest, f"{rel!r}: the journal's current version has other bytes"
    if temporary:
        named = [p for p in d.journaled_paths() if re.search(temporary.encode(), p)]
    else:
        named = sorted(d.journaled_paths() - set(finished))
    assert not named, f"temporary names journaled: {named[:5]}"
    for target in TARGETS:
        _assert_target(d, target, tree, finished if single_version else {})


def _settled(d: ClientDeployment) -> bool:
    open_rows = d.journal_rows("SELECT count(*) FROM replicas WHERE state IN ('pending', 'copying', 'failed')")
    return open_rows[0][0] == 0 and not any(
        name.startswith(".jaga-tmp-") for target in TARGETS for _, _, names in os.walk(d.replica_root(target))
        for name in names)


def _assert_target(d: ClientDeployment, name: str, tree: dict[bytes, str], single: dict[bytes, str]) -> None:
    """The target's data area holds the tree's bytes, its manifest lists what the journal calls verified,
    each manifest entry's bytes can be read back, and a restore from it alone rebuilds the tree."""
    config = load_config(d.config_path)
    target = build_target(config.target(name))
    watch = d.watch_name.encode() + b"/"
    try:
        entries = list(target.read_manifest())
        newest: dict[bytes, int] = {}
        for entry in entries:
            newest[entry.key] = max(newest.get(entry.key, 0), entry.version)
        lost = [(entry.key, entry.version) for entry in entries
                if _stored_sha256(target, d.replica_root(name), entry, newest[entry.key]) != entry.sha256]
        assert not lost, f"{name}: {len(lost)} manifest entries whose bytes are not on the target: {lost[:5]}"
        for rel, digest in tree.items():
            assert newest.get(watch + rel), f"{name}: no manifest entry for {rel!r}"
        for rel in single:
            count = sum(1 for entry in entries if entry.key == watch + rel)
            assert count == 1, f"{name}: {count} manifest entries for {rel!r}, expected 1"
    finally:
        target.close()
    restored = d.base / f"restored-{name}"
    shutil.rmtree(restored, ignore_errors=True)
    result = d.cli("restore", "--from", name, "--to", str(restored))
    assert result.returncode == 0, f"restore from {name} failed: {result.stdout}{result.stderr}"
    got = {rel: file_sha256(path) for rel, path in source_files(restored).items()}  # one watch: at the top
    wrong = sorted(rel for rel, digest in tree.items() if got.get(rel) != digest)
    assert not wrong, f"{name}: a restore lacks (or has other bytes for) {len(wrong)} file(s): {wrong[:5]}"
    # a restore also brings back files deleted on the primary (their replicas stay): only those
    assert set(got) - set(tree) <= d.journaled_paths() - set(tree)


def _stored_sha256(target, root: Path, entry, newest: int) -> str | None:
    """The bytes a manifest entry names: the data area (newest version), the versions area (older
    ones), or, for a file deleted and replaced by a folder of its name, where LocalTarget moved it."""
    try:
        chunks = target.open_read(entry.key) if entry.version == newest else target.open_version(entry.key,
                                                                                                 entry.version)
        return hashlib.sha256(b"".join(chunks)).hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        pass
    displaced = root / ".jaga" / "displaced"
    for stamp in sorted(displaced.iterdir()) if displaced.is_dir() else []:
        candidate = os.path.join(os.fsencode(stamp), entry.key)
        if os.path.isfile(candidate) and file_sha256(candidate) == entry.sha256:
            return entry.sha256
    return None


def run_client(*argv, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{argv[0]} failed ({result.returncode}): {result.stdout}{result.stderr}"
    return result


def payload(size: int, seed: int) -> bytes:
    """Distinct bytes per upload without os.urandom for every MiB."""
    block = hashlib.sha256(b"%d" % seed).digest() * 2048   # 64 KiB
    return (block * (size // len(block) + 1))[:size - 8] + seed.to_bytes(8, "big")


def write_local(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid)

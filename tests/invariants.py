"""The invariants every reliability test ends with."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from pathlib import Path

from jaga.config import DEFAULT_IGNORE  # the daemon's own list: a new default pattern applies here too
from tests.harness import sha256_file, temporaries

RESTORE_TEMPORARY = re.compile(rb"^\.jaga-restore-[0-9a-f]{12}$")


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
    verified whose bytes differ; no temporary file is left behind; no replica is verified on a target
    whose marker is not the one the journal met."""
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
    assert_markers_match(deployment, replica_roots)


def assert_invariants(deployment, replica_roots: dict[str, Path] | None = None, restored: tuple = ()) -> None:
    """Once every jaga process has stopped: no replica left ``copying``; no restore temporaries in the
    upload tree or in any folder restored into; every manifest entry restorable; markers match."""
    replica_roots = replica_roots or {"secondary": deployment.replica}
    copying = deployment.journal_rows("SELECT count(*) FROM replicas WHERE state = 'copying'")[0][0]
    assert copying == 0, f"{copying} replica(s) left 'copying' after every process stopped"
    for folder in (deployment.uploads, *restored):
        left = restore_temporaries(folder)
        assert not left, f"restore temporaries left in {folder}: {left[:5]}"
    assert_markers_match(deployment, replica_roots)
    for target, root in replica_roots.items():
        broken = unrestorable(root)
        assert not broken, f"{target}: {len(broken)} manifest entr(ies) not restorable: {broken[:5]}"
        assert_manifest_agrees(deployment, target, root)


def assert_manifest_agrees(deployment, target: str, root: Path) -> None:
    """The target's manifest and the journal say the same about what it holds: every (key, version,
    SHA-256) in one is in the other."""
    manifest = {(e.key, e.version, e.sha256) for e in manifest_entries(root)}
    rows = deployment.journal_rows(
        "SELECT f.watch, f.path, v.number, v.sha256 FROM replicas r JOIN versions v ON v.id = r.version_id "
        "JOIN files f ON f.id = v.file_id WHERE r.target = ? AND r.state = 'verified'", (target,))
    journal = {(watch.encode() + b"/" + bytes(path), number, sha) for watch, path, number, sha in rows}
    only_manifest, only_journal = sorted(manifest - journal), sorted(journal - manifest)
    assert not only_manifest, f"{target}: in its manifest but not verified in the journal: {only_manifest[:5]}"
    assert not only_journal, f"{target}: verified in the journal but not in its manifest: {only_journal[:5]}"


def assert_markers_match(deployment, replica_roots: dict[str, Path]) -> None:
    """A target holding replicas the journal calls verified carries the marker id the journal met."""
    for target, root in replica_roots.items():
        rows = deployment.journal_rows(
            "SELECT t.marker_id, (SELECT count(*) FROM replicas r WHERE r.target = t.name AND r.state = "
            "'verified') FROM targets t WHERE t.name = ?", (target,))
        if not rows or not rows[0][1]:
            continue
        from replication.target import Marker
        marker = Marker.from_bytes((Path(root) / ".jaga-target").read_bytes())
        assert marker.marker_id == rows[0][0], (f"{target}: {rows[0][1]} replica(s) verified on a target whose "
                                                f"marker id {marker.marker_id} is not the journal's {rows[0][0]}")


def restore_temporaries(folder: Path) -> list[bytes]:
    return [os.path.join(top, name) for top, _dirs, files in os.walk(os.fsencode(folder))
            for name in files if RESTORE_TEMPORARY.match(name)]


def unrestorable(root: Path) -> list[str]:
    """Manifest entries whose bytes are not where restore reads them: the newest version of a key at the
    key (or, if a newer copy was renamed there before its entry was made, in the versions area), every
    older one in the versions area, each with the manifest's SHA-256."""
    from replication.target import version_key
    entries = manifest_entries(root)
    newest: dict[bytes, int] = {}
    for entry in entries:
        newest[entry.key] = max(newest.get(entry.key, 0), entry.version)
    base = os.fsencode(root)
    broken = []
    for entry in entries:
        places = [version_key(entry.key, entry.version)]
        if newest[entry.key] == entry.version:
            places.insert(0, entry.key)
        if not any(_sha(os.path.join(base, place)) == entry.sha256 for place in places):
            broken.append(f"{entry.key!r} v{entry.version}")
    return broken


def manifest_entries(root: Path) -> list:
    """The ManifestEntry lines of a file-based target's manifest (a torn last line is skipped)."""
    from replication.target import ManifestEntry
    manifest = Path(root) / ".jaga" / "manifest.jsonl"
    if not manifest.exists():
        return []
    entries = []
    for line in manifest.read_text(errors="replace").splitlines():
        try:
            entries.append(ManifestEntry.from_json(line))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line after a kill
    return entries


def _sha(path: bytes) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


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


def assert_nothing_left_copying(deployment) -> None:
    """Once every jaga process has stopped, no replica is still claimed: a claim left behind would wait
    for the next start of that node."""
    left = deployment.journal_rows("SELECT count(*) FROM replicas WHERE state = 'copying'")[0][0]
    assert left == 0, f"{left} replica(s) left in state copying after every process stopped"

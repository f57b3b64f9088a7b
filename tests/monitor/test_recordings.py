"""The vendored smartctl recordings are the real ones, unchanged: every file is the one the manifest
lists, and every byte is the one checksummed when they were copied from ``shared/fixtures/smartctl``."""

from __future__ import annotations

import hashlib
import json

from tests.harness import RECORDINGS

SUMS = RECORDINGS.with_name("smartctl.SHA256SUMS")


def stored_files() -> set[str]:
    return {path.relative_to(RECORDINGS).as_posix() for path in RECORDINGS.rglob("*") if path.is_file()}


def checksums() -> dict[str, str]:
    sums = {}
    for line in SUMS.read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    return sums


def test_every_vendored_file_has_its_recorded_checksum():
    sums = checksums()
    assert len(sums) >= 40
    assert set(sums) == stored_files(), "a recording was added or removed: the copy must stay unchanged"
    changed = [name for name, digest in sums.items()
               if hashlib.sha256((RECORDINGS / name).read_bytes()).hexdigest() != digest]
    assert changed == [], f"recordings differ from the copied bytes: {changed}"


def test_the_manifest_lists_exactly_the_recordings_on_disk():
    devices = json.loads((RECORDINGS / "manifest.json").read_text())["devices"]
    listed = {f"{folder}/{item['file']}" for folder, entry in devices.items() for item in entry["files"]}
    assert listed == stored_files() - {"README.md", "manifest.json"}
    for folder, entry in devices.items():
        for item in entry["files"]:
            assert item["source_repo"] and item["source_path"], f"{folder}/{item['file']}: no source recorded"

"""The operator's verbs: verify finds what is wrong and repairs it; restore rebuilds from a replica alone."""

import json
import os
import time
from pathlib import Path

from replication.target import ManifestEntry
from tests.harness import sha256_file, write_file
from tests.invariants import source_files

OLD = 1_600_000_000


def populate(deployment, count=25) -> dict[bytes, bytes]:
    """Files with old mtimes (so `sync` takes them at once); returns rel → content."""
    contents = {}
    for i in range(count):
        rel = f"{'hibah' if i % 2 else 'bansos'}/desa-{i % 5}/proposal-{i}.pdf".encode()
        data = os.urandom(1000 + 97 * i)
        write_file(os.path.join(os.fsencode(deployment.uploads), rel), data)
        os.utime(os.path.join(os.fsencode(deployment.uploads), rel), (OLD + i, OLD + i))
        contents[rel] = data
    result = deployment.cli("sync")
    assert result.returncode == 0, result.stdout + result.stderr
    return contents


def tree(root: Path) -> dict[bytes, bytes]:
    found = {}
    for rel, path in source_files(root, ignore=()).items():
        found[rel] = path.read_bytes()
    return found


def test_restore_without_the_journal_rebuilds_the_tree_byte_for_byte(deployment, tmp_path):
    contents = populate(deployment)
    revised = b"hibah/desa-1/proposal-1.pdf"
    write_file(deployment.uploads / os.fsdecode(revised), b"revised proposal")
    os.utime(deployment.uploads / os.fsdecode(revised), (OLD + 999, OLD + 999))
    assert deployment.cli("sync").returncode == 0
    contents[revised] = b"revised proposal"
    os.unlink(deployment.base / "journal.db")  # the primary disk died, and the journal with it

    restored = tmp_path / "restored"
    result = deployment.cli("restore", "--from", "secondary", "--to", str(restored))
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree(restored) == contents
    assert os.stat(restored / os.fsdecode(revised)).st_mtime == OLD + 999
    assert "restored 25 file(s)" in result.stdout


def test_restore_resumes_where_it_stopped(deployment, tmp_path):
    contents = populate(deployment, count=10)
    restored = tmp_path / "restored"
    first = deployment.cli("restore", "--from", "secondary", "--to", str(restored), "--path", "hibah")
    assert first.returncode == 0 and "restored 5 file(s)" in first.stdout
    second = deployment.cli("restore", "--from", "secondary", "--to", str(restored))
    assert second.returncode == 0
    assert "restored 5 file(s)" in second.stdout and "5 already in place" in second.stdout
    assert tree(restored) == contents


def test_restore_at_a_time_gives_the_version_current_then(deployment, tmp_path):
    populate(deployment, count=2)
    path = deployment.uploads / "bansos" / "desa-0" / "proposal-0.pdf"
    original = path.read_bytes()
    between = time.time()  # after the first sync replicated v1, before the next replicates v2
    path.write_bytes(b"a later revision")
    assert deployment.cli("sync").returncode == 0
    restored = tmp_path / "then"
    result = deployment.cli("restore", "--from", "secondary", "--to", str(restored), "--at",
                            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(between)) + f".{int(between % 1 * 1e6):06d}+00:00")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (restored / "bansos" / "desa-0" / "proposal-0.pdf").read_bytes() == original


def test_a_hostile_manifest_cannot_write_outside_the_restore_folder(deployment, tmp_path):
    populate(deployment, count=1)
    manifest = deployment.replica / ".jaga" / "manifest.jsonl"
    with open(manifest, "a") as handle:
        for key in (b"uploads/../../etc/passwd", b"/etc/shadow", b"uploads/a/../../../escape"):
            handle.write(ManifestEntry(key, 1, 4, "0" * 64, OLD, time.time()).to_json() + "\n")
    restored = tmp_path / "restored"
    result = deployment.cli("restore", "--from", "secondary", "--to", str(restored))
    assert result.returncode == 1
    assert result.stdout.count("unsafe key") + result.stdout.count("'..' component") == 3
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    assert len(tree(restored)) == 1, "the good file is still restored"


def test_sync_over_a_restored_tree_uploads_nothing_again(deployment, tmp_path):
    contents = populate(deployment, count=8)
    before = {rel: os.stat(os.path.join(os.fsencode(deployment.replica_data), rel)).st_ino for rel in contents}
    os.unlink(deployment.base / "journal.db")
    for rel in contents:
        os.unlink(os.path.join(os.fsencode(deployment.uploads), rel))
    result = deployment.cli("restore", "--from", "secondary", "--to", str(deployment.uploads))
    assert result.returncode == 0, result.stdout + result.stderr
    result = deployment.cli("sync")
    assert result.returncode == 0, result.stdout + result.stderr
    after = {rel: os.stat(os.path.join(os.fsencode(deployment.replica_data), rel)).st_ino for rel in contents}
    assert after == before, "no replica was rewritten"
    assert json.loads(deployment.cli("status", "--json").stdout)["targets"]["secondary"]["verified"] == 8


def test_verify_finds_missing_corrupt_and_unexpected_and_repair_heals(deployment):
    contents = populate(deployment, count=6)
    rels = sorted(contents)
    data = deployment.replica_data
    (data / os.fsdecode(rels[0])).unlink()
    with open(data / os.fsdecode(rels[1]), "r+b") as handle:  # one flipped byte
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 0xFF]))
    write_file(data / "stray.pdf", b"not from the journal")

    result = deployment.cli("verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)["targets"]["secondary"]
    assert report["missing"] == [f"uploads/{os.fsdecode(rels[0])}"]
    assert report["corrupt"] == [f"uploads/{os.fsdecode(rels[1])}"]
    assert report["unexpected"] == ["uploads/stray.pdf"]
    assert report["checked"] == 6

    result = deployment.cli("verify", "--repair", "--json")
    assert len(json.loads(result.stdout)["targets"]["secondary"]["repaired"]) == 2
    for rel in rels[:2]:
        assert sha256_file(data / os.fsdecode(rel)) == sha256_file(deployment.uploads / os.fsdecode(rel))
    (data / "stray.pdf").unlink()
    assert deployment.cli("verify").returncode == 0


def test_repair_uses_another_replica_when_the_primary_lost_the_file(deployment, tmp_path):
    deployment.doc["targets"].append({"name": "offsite", "type": "local", "path": "offsite"})
    deployment.write_config()
    contents = populate(deployment, count=3)
    rel = sorted(contents)[0]
    os.unlink(os.path.join(os.fsencode(deployment.uploads), rel))
    os.unlink(os.path.join(os.fsencode(deployment.replica_data), rel))
    result = deployment.cli("verify", "--target", "secondary", "--repair", "--json")
    assert json.loads(result.stdout)["targets"]["secondary"]["repaired"] == [f"uploads/{os.fsdecode(rel)}"]
    assert (deployment.replica_data / os.fsdecode(rel)).read_bytes() == contents[rel]

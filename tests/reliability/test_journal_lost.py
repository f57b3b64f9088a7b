"""The journal is lost (it lived on the primary disk) while a target survives: the daemon restarted on
that target must rebuild its knowledge from the target's manifest, so a revision made afterwards
continues each file's version numbering, nothing in `.jaga/versions/` is overwritten, and `jaga
restore` (latest, and `--at` every moment between versions) gives the right bytes for every version.
Also when the target cannot be reached at start, and its history comes in only when it returns."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.harness import write_file
from tests.invariants import assert_invariants, manifest_entries, source_files
from tests.reliability.rig import wait_for
from tests.servers.fixtures import fresh_sshd  # noqa: F401

FORM = "hibah/desa-1/form.pdf"
OTHER = "bansos/desa-2/scan.pdf"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def revise(d, rel: str, data: bytes) -> None:
    temp = d.uploads / (rel + ".part")
    write_file(temp, data)
    os.replace(temp, d.uploads / rel)
    wait_for(lambda: verified_hash(d, rel) == sha(data), timeout=30, message=f"{rel} = {data[:12]!r} verified")


def verified_hash(d, rel: str) -> str | None:
    rows = d.journal_rows("SELECT v.sha256, min(r.state = 'verified') FROM files f JOIN versions v ON v.file_id = "
                          "f.id AND v.number = f.current_version JOIN replicas r ON r.version_id = v.id "
                          "WHERE f.path = ? GROUP BY v.id", (rel.encode(),))
    return rows[0][0] if rows and rows[0][1] else None


def moment(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat()


def restored(d, target: str, dest, *args) -> dict[bytes, str]:
    result = d.cli("restore", "--from", target, "--to", str(dest), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return {rel: sha(path.read_bytes()) for rel, path in source_files(dest).items()}


@pytest.mark.parametrize("reach", ["reachable", "down-at-start"])
def test_a_journal_lost_and_rebuilt_from_the_target_keeps_every_version(rig, request, reach):
    if reach == "reachable":
        d, name, root, server = rig.deployment(), "secondary", None, None
        root = d.replica
    else:  # an SFTP server that is down when the daemon starts on the new journal
        server = request.getfixturevalue("fresh_sshd")
        root = Path(server.remote_dir("lost-journal"))
        name = "offsite"
        d = rig.deployment(targets=[server.target_config(name, str(root)).model_dump(mode="json", exclude_none=True)])
    d.start()
    versions = [b"form, first draft " * 100, b"form, signed " * 90]
    other = os.urandom(5000)
    write_file(d.uploads / OTHER, other)
    for data in versions:
        revise(d, FORM, data)
    d.stop()
    for suffix in ("", "-wal", "-shm"):
        (d.base / f"journal.db{suffix}").unlink(missing_ok=True)  # the primary's journal is gone

    if server is not None:
        server.kill()
    d.start()  # the same uploads and the same target, a new journal
    if server is not None:
        wait_for(lambda: d.journal_rows("SELECT count(*) FROM files")[0][0] == 2, timeout=30,
                 message="the uploads observed into the new journal while the target is down")
        server.restart()
    wait_for(lambda: verified_hash(d, OTHER) == sha(other), timeout=60, message="the other file known again")
    versions.append(b"form, revised after the journal was lost " * 50)
    revise(d, FORM, versions[-1])
    numbers = [n for (n,) in d.journal_rows("SELECT v.number FROM versions v JOIN files f ON f.id = v.file_id "
                                            "WHERE f.path = ? ORDER BY v.number", (FORM.encode(),))]
    d.stop()

    area = root / ".jaga" / "versions" / "uploads" / FORM
    kept = {p.name: sha(p.read_bytes()) for p in area.iterdir()}
    assert kept == {str(n): sha(versions[n - 1]) for n in (1, 2)}, "a version in .jaga/versions/ was overwritten"
    assert numbers == [1, 2, 3], f"the numbering must continue from the target's manifest: {numbers}"

    latest = restored(d, name, rig.base / "latest")
    assert latest == {FORM.encode(): sha(versions[-1]), OTHER.encode(): sha(other)}
    stamps = {}
    for entry in manifest_entries(root):
        if entry.key == b"uploads/" + FORM.encode():
            stamps.setdefault(entry.sha256, entry.replicated_at)
    for number in (1, 2):
        between = (stamps[sha(versions[number - 1])] + stamps[sha(versions[number])]) / 2
        then = restored(d, name, rig.base / f"at-{number}", "--at", moment(between), "--path", FORM)
        assert then == {FORM.encode(): sha(versions[number - 1])}, f"restore --at between v{number} and v{number + 1}"
    assert_invariants(d, {name: root}, restored=tuple(rig.base.glob("at-*")) + (rig.base / "latest",))

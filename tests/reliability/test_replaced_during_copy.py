"""A file replaced while its first version is being copied: the copy was already renamed into place
(its read-back is under way, slowed by the SFTP target's bandwidth limit) when the new version is
recorded. Those bytes are on the target and in its manifest, so the next version must keep them:
`restore --at` any moment between the two versions gives the first one, for every file."""

from __future__ import annotations

import os
from pathlib import Path

from replication.factory import build_target
from replication.restore import restore, select_versions
from tests.harness import write_file
from tests.invariants import assert_invariants, manifest_entries
from tests.reliability.rig import wait_for
from tests.servers.fixtures import sshd_server  # noqa: F401

FILES = 8
SIZE = 48 * 1024
BANDWIDTH = 96 * 1024  # bytes/s for all copies at once: each read-back takes about 2 s


def test_files_replaced_while_their_first_copy_is_read_back_keep_every_version(rig, sshd_server, tmp_path):
    root = Path(sshd_server.remote_dir("replaced"))
    sftp = sshd_server.target_config("offsite", str(root), bandwidth=BANDWIDTH, workers=4)
    d = rig.deployment(targets=[sftp.model_dump(mode="json", exclude_none=True)])
    d.start()
    first = {f"f{i:02d}/proposal-{i}.pdf": os.urandom(SIZE) for i in range(FILES)}
    for rel, data in first.items():
        write_file(d.uploads / rel, data)

    in_flight = []
    waiting = set(first)

    def replace_those_renamed_into_place() -> bool:
        for rel in sorted(waiting):
            if (root / "uploads" / rel).exists():  # renamed into place; its read-back runs now
                if first_state(d, rel) == "copying":
                    in_flight.append(rel)
                temp = d.uploads / (rel + ".part")
                temp.write_bytes(b"second version of " + rel.encode())
                os.replace(temp, d.uploads / rel)
                waiting.discard(rel)
        return not waiting

    wait_for(replace_those_renamed_into_place, timeout=120, interval=0.01,
             message="every first version renamed into place on the target, then replaced")
    wait_for(lambda: d.journal_rows("SELECT count(*) FROM versions")[0][0] == 2 * FILES, timeout=30,
             message="both versions of every file journaled")
    wait_for(lambda: d.all_verified([rel.encode() for rel in first]), timeout=120, interval=0.2,
             message="every second version verified")
    d.stop()

    entries = manifest_entries(root)
    target = build_target(sftp)
    try:
        failures = []
        for rel, data in first.items():
            key = b"uploads/" + rel.encode()
            versions = sorted((e for e in entries if e.key == key), key=lambda e: e.version)
            assert [e.version for e in versions] == [1, 2], (rel, versions)
            between = (versions[0].replicated_at + versions[1].replicated_at) / 2
            dest = tmp_path / "at" / rel.replace("/", "_")
            report = restore(target, os.fsencode(dest), select_versions(entries, between, rel.encode()))
            restored = dest / rel
            if report.failed or not restored.exists() or restored.read_bytes() != data:
                failures.append(f"{rel}: {report.failed or 'other bytes'}")
    finally:
        target.close()
    assert not failures, (f"{len(failures)} of {FILES} files lost their first version ({len(in_flight)} were "
                          f"still being copied when replaced): {failures[:3]}")
    assert len(in_flight) >= FILES // 2, (f"only {len(in_flight)} first copies were in flight when the file "
                                          "was replaced: the test did not test the race")
    assert_invariants(d, {"offsite": root})


def first_state(d, rel: str) -> str | None:
    rows = d.journal_rows("SELECT r.state FROM replicas r JOIN versions v ON v.id = r.version_id JOIN files f "
                          "ON f.id = v.file_id WHERE f.path = ? AND v.number = 1", (rel.encode(),))
    return rows[0][0] if rows else None

"""Crash: the daemon is SIGKILLed 20 times at random moments while a writer streams 3,000 files."""

from __future__ import annotations

import random
import time

from tests.harness import temporaries
from tests.invariants import assert_all_replicated, assert_invariants
from tests.reliability.rig import wait_for

FILES = 3000
KILLS = 20
RATE = 100.0          # files/s: the stream lasts ~30 s, one kill slot every ~1.5 s


def manifest_entries(replica_root) -> set[tuple[bytes, int, str]]:
    from replication.target import ManifestEntry
    path = replica_root / ".jaga" / "manifest.jsonl"
    entries = set()
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = ManifestEntry.from_json(line)
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line after a kill is allowed
        entries.add((entry.key, entry.version, entry.sha256))
    return entries


def test_sigkill_20_times_while_3000_files_stream_loses_nothing(rig):
    d = rig.deployment(settle="300ms")
    chance = random.Random()
    seed = chance.randrange(1 << 30)
    chance.seed(seed)
    d.start()
    writer = rig.writer(d.uploads, count=FILES, rate=RATE, sizes=(200, 24_000), seed=seed)
    writer.start()
    slot = FILES / RATE / KILLS
    began = time.monotonic()
    uptimes = []
    for kill in range(KILLS):
        # a random moment inside this kill's slot, but never before the daemon is up again
        moment = began + kill * slot + chance.uniform(0, slot)
        time.sleep(max(0.0, moment - time.monotonic()))  # pacing the fault, not waiting for an outcome
        uptimes.append(round(time.monotonic() - began, 2))
        d.kill()
        d.start()
    written = writer.finish()
    assert len(written) == FILES

    wait_for(lambda: d.all_verified(written), timeout=120, interval=0.5,
             message=f"all {FILES} files verified after {KILLS} kills (seed {seed}, kills at {uptimes})")
    assert d.log_count("jaga started") == KILLS + 1
    states = dict(d.journal_rows("SELECT state, count(*) FROM replicas GROUP BY state"))
    assert states == {"verified": FILES}, f"replica states after the drain: {states}"
    files = d.journal_rows("SELECT count(*), sum(current_version) FROM files")[0]
    assert files == (FILES, FILES), ("each file was written once and closed: one version each, "
                                     f"got (files, versions) = {files}")
    d.stop()

    # the target's own manifest (what restore reads without the journal) knows every verified replica
    rows = d.journal_rows("SELECT f.watch, f.path, v.number, v.sha256 FROM versions v JOIN files f "
                          "ON f.id = v.file_id JOIN replicas r ON r.version_id = v.id WHERE r.state = 'verified'")
    manifest = manifest_entries(d.replica)
    missing = [(w, bytes(p)) for w, p, n, sha in rows if (w.encode() + b"/" + bytes(p), n, sha) not in manifest]
    assert not missing, f"{len(missing)} verified replicas missing from the target manifest: {missing[:5]}"
    assert temporaries(d.replica) == []
    assert_all_replicated(d)
    assert_invariants(d)

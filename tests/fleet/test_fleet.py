"""Three real daemons on one PostgreSQL journal and one shared S3 target, identical configs apart from `node`:
started at the same instant, files streaming into each, one SIGKILLed and restarted. Every file of
every node is verified and byte-identical on its own local target and on S3; no node claims, resets,
deletes or backfills another's files; `jaga status` is right per node."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import pytest

from tests.fleet.rig import Node, Uploads, start_together, wait_all_verified
from tests.harness import sha256_file, wait_for

NAMES = ("srv-a", "srv-b", "srv-c")
VERIFIED = re.compile(r"target (\S+): verified (\S+) v(\d+)$")


def fleet_nodes(tmp_path: Path, postgres, moto_s3, s3_credentials) -> list[Node]:
    url = postgres.create_database("fleet" + secrets.token_hex(4))
    bucket = f"jaga-fleet-{secrets.token_hex(4)}"
    nodes = []
    for name in NAMES:
        s3 = moto_s3.target_config("cloud", s3_credentials, bucket=bucket, prefix="fleet/", shared=True)
        nodes.append(Node(tmp_path / name, name, url, s3.model_dump(mode="json", exclude_none=True)))
    return nodes


def verified_lines(node: Node) -> list[tuple[str, str, str]]:
    found = []
    for line in node.log_text().splitlines():
        match = VERIFIED.search(line)
        if match:
            found.append(match.groups())
    return found


def test_three_nodes_on_one_journal_each_replicate_only_their_own_files(tmp_path, postgres, moto_s3,
                                                                        s3_credentials):
    nodes = fleet_nodes(tmp_path, postgres, moto_s3, s3_credentials)
    try:
        start_together(nodes)
        uploads = [Uploads(node, 30, seed) for seed, node in enumerate(nodes)]
        for upload in uploads:
            upload.start()
        victim = nodes[1]
        wait_for(lambda: len(victim.own_verified()) >= 3, timeout=60, message="srv-b replicating")
        victim.kill()                                           # SIGKILL mid-stream, files still arriving
        victim.start()
        written = {node.name: upload.finish() for node, upload in zip(nodes, uploads)}
        wait_all_verified(nodes, written)

        for node in nodes:
            assert {bytes(p) for (p,) in node.journal_rows("SELECT path FROM files WHERE node = :n",
                                                           {"n": node.name})} == set(written[node.name])
            assert_replicas_identical(node, written[node.name], tmp_path / f"restored-{node.name}")
            status = node.cli("status", "--json")
            assert status.returncode == 0, status.stdout + status.stderr
            doc = json.loads(status.stdout)
            assert doc["files"] == len(written[node.name])
            for target in ("local", "cloud"):
                assert (doc["targets"][target]["verified"], doc["targets"][target]["pending"],
                        doc["targets"][target]["failed"]) == (len(written[node.name]), 0, 0), (node.name, doc)
        fleet = nodes[2].cli("status", "--fleet", "--json")
        assert fleet.returncode == 0, fleet.stdout + fleet.stderr
        assert {n["name"]: (n["state"], n["backlog"]) for n in json.loads(fleet.stdout)["nodes"]} == \
            {name: ("running", {}) for name in NAMES}
        page_fleet = json.loads(nodes[0].http("/api/status")[1])["fleet"]
        assert sorted(n["name"] for n in page_fleet) == list(NAMES)
        assert nodes[0].journal_rows("SELECT count(*) FROM files WHERE deleted_at IS NOT NULL") == [(0,)], \
            "a node marked files deleted"
        for node in nodes:
            lines = verified_lines(node)
            others = [line for line in lines for other in NAMES if other != node.name and f"own/{other}-" in line[1]]
            assert not others, f"{node.name} copied another node's files: {others[:3]}"
            if node is not victim:  # a kill may cost the victim a copy again; the others copy each once
                assert len(lines) == len(set(lines)) == 2 * len(written[node.name]), f"{node.name}: claimed twice?"
            assert not node.logged("in flight when jaga last stopped") or node is victim
        for node in nodes:
            assert node.stop() == 0
    finally:
        for node in nodes:
            node.close()


def assert_replicas_identical(node: Node, written: dict[bytes, bytes], restored: Path) -> None:
    """On its local target, and on the shared S3 target through `jaga restore --from cloud` (its own
    node's tree, from the bucket alone)."""
    for rel, data in written.items():
        replica = node.replica_data / os.fsdecode(rel)
        assert replica.read_bytes() == data, f"{node.name}: local replica of {rel!r} differs"
    result = node.cli("restore", "--from", "cloud", "--to", str(restored))
    assert result.returncode == 0, result.stdout + result.stderr
    for rel, data in written.items():
        assert sha256_file(restored / os.fsdecode(rel)) == sha256_file(node.uploads / os.fsdecode(rel)), \
            f"{node.name}: {rel!r} restored from S3 differs"


def test_after_a_journal_reconnect_the_node_reconciles_what_a_lost_commit_dropped(tmp_path, postgres, moto_s3,
                                                                                   s3_credentials):
    """An asynchronous failover promotes a standby that missed the last commits: here the rows of one
    file are gone and every connection is cut. The node notices (its writer lock's connection is gone),
    takes the lock again and reconciles at once, not at the next periodic rescan (an hour away)."""
    (node,) = fleet_nodes(tmp_path, postgres, moto_s3, s3_credentials)[:1]
    node.doc["ingest"]["reconcile_interval"] = "1h"
    node.write_config()
    try:
        node.start()
        for name in ("kept.pdf", "lost.pdf"):
            (node.uploads / name).write_bytes(name.encode() * 1000)
        wait_for(lambda: node.own_verified() >= {b"kept.pdf", b"lost.pdf"}, timeout=60, message="both verified")
        lost = "SELECT v.id FROM versions v JOIN files f ON f.id = v.file_id WHERE f.path = :p"
        node.journal_rows(f"DELETE FROM replicas WHERE version_id IN ({lost}) RETURNING id", {"p": b"lost.pdf"})
        node.journal_rows(f"DELETE FROM versions WHERE id IN ({lost}) RETURNING id", {"p": b"lost.pdf"})
        node.journal_rows("DELETE FROM files WHERE path = :p RETURNING id", {"p": b"lost.pdf"})
        node.journal_rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        wait_for(lambda: node.own_verified() >= {b"kept.pdf", b"lost.pdf"}, timeout=60, interval=0.5,
                 message="the file whose commit was lost journaled and verified again")
        assert node.metric("jaga_reconcile_scans_total", reason="journal_reconnect") >= 1
        assert node.stop() == 0
    finally:
        node.close()


def test_a_primary_failover_behind_a_multi_host_url_loses_no_file(tmp_path, moto_s3, s3_credentials):
    """Two nodes on a primary with an asynchronous streaming standby, one URL naming both
    (target_session_attrs=read-write). The primary dies mid-stream; the standby is promoted. Every
    file of both nodes ends verified and byte-identical on its targets."""
    from tests.postgres import PostgresCluster, StandbyCluster, crash, multi_host_url, unavailable_reason
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    primary = PostgresCluster().start()
    standby = None
    try:
        primary.create_database("fleet")
        standby = StandbyCluster(primary).start()
        url = multi_host_url("fleet", primary, standby)
        bucket = f"jaga-fleet-{secrets.token_hex(4)}"
        nodes = [Node(tmp_path / name, name, url, moto_s3.target_config(
            "cloud", s3_credentials, bucket=bucket, prefix="fleet/", shared=True).model_dump(mode="json",
                                                                                          exclude_none=True))
                 for name in NAMES[:2]]
        try:
            start_together(nodes)
            uploads = [Uploads(node, 24, seed) for seed, node in enumerate(nodes)]
            for upload in uploads:
                upload.start()
            wait_for(lambda: all(len(node.own_verified()) >= 3 for node in nodes), timeout=60,
                     message="both nodes replicating")
            crash(primary)
            standby.promote()
            written = {node.name: upload.finish() for node, upload in zip(nodes, uploads)}
            wait_all_verified(nodes, written, timeout=150)
            for node in nodes:
                assert_replicas_identical(node, written[node.name], tmp_path / f"restored-{node.name}")
                assert node.process.poll() is None, f"{node.name} stopped: {node.log_tail()}"
            for node in nodes:
                assert node.stop() == 0
            assert nodes[0].journal_rows("SELECT count(*) FROM replicas WHERE state = 'copying'") == [(0,)]
        finally:
            for node in nodes:
                node.close()
    finally:
        for cluster in (standby, primary):
            if cluster is not None:
                cluster.stop()

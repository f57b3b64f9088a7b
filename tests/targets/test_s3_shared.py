"""A shared S3 target: one bucket for every node of a fleet, one marker decided by the journal, and each
node's data, manifest, versions and temporaries under its own area ``<prefix>/nodes/<node>/``."""

from __future__ import annotations

import threading

import boto3
import pytest

from journal import Journal
from replication.readiness import ensure_ready
from replication.s3.target import S3Target
from replication.target import MARKER_NAME, ManifestEntry, Marker, version_key
from tests.servers.moto_s3 import ACCESS_KEY, SECRET_KEY


def _objects(moto, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


class MeetingAtOnce(S3Target):
    """Both nodes look for the marker, and only then go on: the instant two nodes start together."""

    def __init__(self, config, node, barrier: threading.Barrier):
        super().__init__(config, node=node)
        self.barrier = barrier

    def read_marker(self):
        found = super().read_marker()
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=30)
        return found


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_two_nodes_meeting_a_fresh_bucket_at_once_end_with_one_marker(moto_s3, s3_credentials, journal_url,
                                                                      region):
    """Neither node is down after first contact, and both hold the id the journal decided."""
    config = moto_s3.target_config("cloud", s3_credentials, shared=True, region=region)
    barrier = threading.Barrier(2)
    nodes = {name: (MeetingAtOnce(config, name, barrier), Journal(journal_url)) for name in ("srv-a", "srv-b")}
    nodes["srv-a"][1].migrate()
    results: dict[str, object] = {}

    def start(name):
        target, journal = nodes[name]
        try:
            results[name] = ensure_ready(target, journal, {"up"})
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            results[name] = exc

    threads = [threading.Thread(target=start, args=(name,)) for name in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert all(isinstance(r, Marker) for r in results.values()), results
        decided = nodes["srv-a"][1].target_marker("cloud")
        assert {r.marker_id for r in results.values()} == {decided}
        assert nodes["srv-b"][1].target_marker("cloud") == decided
        for target, _journal in nodes.values():
            assert target.prove_identity().marker_id == decided
            target.put(b"up/a.pdf", [b"data"], 1, None)   # proven: it writes
        assert _objects(moto_s3, config.bucket).count(f"replica/{MARKER_NAME}") == 1
    finally:
        for target, journal in nodes.values():
            target.close()
            journal.close()


@pytest.fixture
def fleet(moto_s3, s3_credentials):
    config = moto_s3.target_config("cloud", s3_credentials, shared=True, multipart_threshold=5 * 1024 * 1024)
    targets = {name: S3Target(config, node=name) for name in ("srv-a", "srv-b")}
    targets["srv-a"].write_marker(Marker("cloud", "m-1", 1.0))
    targets["srv-b"].expect_marker("m-1")
    yield config, targets
    for target in targets.values():
        target.close()


def _entry(key: bytes) -> ManifestEntry:
    return ManifestEntry(key, 1, 4, "0" * 64, 1, 1.0)


def test_each_node_writes_reads_and_lists_only_its_own_area(moto_s3, fleet):
    config, targets = fleet
    a, b = targets["srv-a"], targets["srv-b"]
    a.put(b"up/same.pdf", [b"from a"], 1, None)
    b.put(b"up/same.pdf", [b"from b"], 1, None)
    b.put(b"up/same.pdf", [b"b again"], 2, version_key(b"up/same.pdf", 1))
    a.append_manifest([_entry(b"up/same.pdf")])
    b.append_manifest([_entry(b"up/same.pdf"), _entry(b"up/only-b.pdf")])
    assert b"".join(a.open_read(b"up/same.pdf")) == b"from a"
    assert b"".join(b.open_read(b"up/same.pdf")) == b"b again"
    assert b"".join(b.open_version(b"up/same.pdf", 1)) == b"from b"
    assert list(a.list_keys()) == [b"up/same.pdf"] and list(b.list_keys()) == [b"up/same.pdf"]
    assert [e.key for e in a.read_manifest()] == [b"up/same.pdf"]
    assert [e.key for e in b.read_manifest()] == [b"up/same.pdf", b"up/only-b.pdf"]
    objects = _objects(moto_s3, config.bucket)
    assert "replica/.jaga-target" in objects
    assert "replica/nodes/srv-a/up/same.pdf" in objects and "replica/nodes/srv-b/up/same.pdf" in objects
    assert "replica/nodes/srv-b/.jaga/versions/up/same.pdf/1" in objects
    assert all(name == "replica/.jaga-target" or name.startswith(("replica/nodes/srv-a/", "replica/nodes/srv-b/"))
               for name in objects), objects
    assert [n for n in objects if "/manifest/" in n and n.startswith("replica/nodes/srv-a/.jaga/manifest/")]


def test_a_node_sweeps_only_its_own_temporaries(moto_s3, fleet):
    config, targets = fleet
    client = targets["srv-a"].client
    for target in targets.values():   # a crashed multipart copy on each node
        name = target.names.temp("crashed")
        client.create_multipart_upload(Bucket=config.bucket, Key=name)
        client.put_object(Bucket=config.bucket, Key=name, Body=b"half")
    assert targets["srv-a"].remove_temporaries(keep=()) == 2
    left = [n for n in _objects(moto_s3, config.bucket) if "/tmp/" in n]
    uploads = client.list_multipart_uploads(Bucket=config.bucket).get("Uploads", [])
    assert left and all(n.startswith("replica/nodes/srv-b/") for n in left), left
    assert uploads and all(u["Key"].startswith("replica/nodes/srv-b/") for u in uploads)


def test_a_single_node_target_keeps_todays_layout(moto_s3, s3_credentials):
    """No migration for existing buckets: without ``shared`` nothing moves under nodes/."""
    config = moto_s3.target_config("cloud", s3_credentials)
    target = S3Target(config, node="srv-a")
    try:
        target.write_marker(Marker("cloud", "m-1", 1.0))
        target.put(b"up/a.pdf", [b"data"], 1, None)
        target.append_manifest([_entry(b"up/a.pdf")])
        objects = _objects(moto_s3, config.bucket)
        assert "replica/.jaga-target" in objects and "replica/up/a.pdf" in objects
        assert [n for n in objects if n.startswith("replica/.jaga/manifest/")]
        assert not [n for n in objects if "nodes/" in n]
    finally:
        target.close()


def test_a_shared_target_needs_a_node(moto_s3, s3_credentials):
    config = moto_s3.target_config("cloud", s3_credentials, shared=True)
    with pytest.raises(ValueError, match="node"):
        S3Target(config)


def test_a_decision_whose_marker_never_followed_is_finished_but_a_used_bucket_is_not(moto_s3, s3_credentials,
                                                                                     tmp_path):
    """The deciding node stopped between the journal and the bucket: the next start writes that marker. A
    bucket that did hold verified replicas and lost its marker stays down (wrong bucket, lost data)."""
    from replication.target import TargetDown
    config = moto_s3.target_config("cloud", s3_credentials, shared=True)
    journal = Journal(f"sqlite:///{tmp_path}/journal.db")
    journal.migrate()
    target = S3Target(config, node="srv-a")
    try:
        decided, _at = journal.decide_target("cloud", "decided-then-stopped")
        assert decided == "decided-then-stopped" and journal.decide_target("cloud", "later")[0] == decided
        assert ensure_ready(target, journal, {"up"}).marker_id == decided
        journal.adopt_target("cloud", decided, [_known()])        # a verified replica in the journal
        target.client.delete_object(Bucket=config.bucket, Key=target.names.marker)
        with pytest.raises(TargetDown, match="missing"):
            ensure_ready(target, journal, {"up"})
    finally:
        target.close()
        journal.close()


def _known():
    from journal.records import KnownVersion
    return KnownVersion("up", b"a.pdf", 1, 4, 1, "0" * 64, 1.0)


def test_verify_of_a_shared_target_reads_only_the_own_area(fleet):
    """The other node's files are neither "unexpected" here nor read: verify and scrub cost one node's share."""
    import hashlib
    from replication.verify import expected_from_manifest, verify_target
    _config, targets = fleet
    for name, target in targets.items():
        data = name.encode() * 100
        for i in range(3 if name == "srv-a" else 5):
            key = f"up/{name}-{i}.pdf".encode()
            target.put(key, [data], 1, None)
            target.append_manifest([ManifestEntry(key, 1, len(data), hashlib.sha256(data).hexdigest(), 1, 1.0)])
    report = verify_target(targets["srv-a"], expected_from_manifest(targets["srv-a"]))
    assert (report.checked, report.missing, report.corrupt, report.unexpected) == (3, [], [], [])

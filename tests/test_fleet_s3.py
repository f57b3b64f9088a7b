"""A fleet's shared S3 target: two real daemons on one real PostgreSQL journal and one bucket (moto's S3
server), each with its own upload folder. Both start at the same instant on a fresh bucket: one marker,
the one the journal decided, and the target is never down for either. Each node's area in the bucket
holds exactly its own files, and `jaga restore --node` gives each server's tree back from the bucket
alone, byte for byte."""

from __future__ import annotations

import json
import os
import secrets

import boto3
import pytest
from sqlalchemy import create_engine, text

from journal import Journal
from tests.harness import Deployment, free_port, wait_for, write_file
from tests.servers.fixtures import moto_s3, s3_credentials  # noqa: F401
from tests.servers.moto_s3 import ACCESS_KEY, SECRET_KEY
from tests.test_verify_restore import tree

NODES = ("srv-a", "srv-b")
UNREACHABLE_JOURNAL = "postgresql+psycopg://postgres@127.0.0.1:1/gone"


@pytest.fixture
def fleet(tmp_path, postgres, moto_s3, s3_credentials):
    url = postgres.create_database("fleet" + secrets.token_hex(4))
    journal = Journal(url)   # the schema first: two first migrations at once are the journal side's test
    journal.migrate()
    journal.close()
    cloud = moto_s3.target_config("cloud", s3_credentials, shared=True, timeout=30.0  # a loaded machine is no outage
                                  ).model_dump(mode="json", exclude_none=True)
    nodes = {name: Deployment(tmp_path / name, targets=[cloud], watch_name=f"up-{name}",
                              extra={"node": name, "journal": {"url": url}}) for name in NODES}
    yield nodes, url, cloud
    for node in nodes.values():
        node.stop()


def _bucket(moto, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _marker(moto, bucket: str) -> dict:
    client = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="us-east-1",
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    return json.loads(client.get_object(Bucket=bucket, Key="replica/.jaga-target")["Body"].read())


def _verified(url: str, watch: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM replicas r JOIN versions v ON v.id = r.version_id JOIN files f "
                "ON f.id = v.file_id WHERE r.target = 'cloud' AND r.state = 'verified' AND f.watch = :watch "
                "AND v.number = f.current_version"), {"watch": watch}).scalar()
    finally:
        engine.dispose()


def _put_files(node: Deployment, name: str, first: int, count: int, contents: dict) -> None:
    for i in range(first, first + count):
        rel = f"{'hibah' if i % 2 else 'bansos'}/{name}-proposal-{i}.pdf".encode()
        contents[name][rel] = os.urandom(1500 + 300 * i)
        write_file(node.uploads / os.fsdecode(rel), contents[name][rel])


def test_two_nodes_share_one_bucket_each_in_its_own_area_and_each_tree_restores_from_it(
        fleet, moto_s3, tmp_path):
    nodes, url, cloud = fleet
    contents = {name: {} for name in NODES}
    for name, node in nodes.items():   # work waiting before either daemon starts
        _put_files(node, name, 0, 4, contents)
    for node in nodes.values():        # both at the same instant, on a bucket nobody has made yet
        node.start(ready=lambda: True)
    for node in nodes.values():
        wait_for(node._healthy, 60, message="both daemons up")
    for name, node in nodes.items():
        _put_files(node, name, 4, 4, contents)
    for name, node in nodes.items():
        wait_for(lambda: _verified(url, f"up-{name}") == 8, timeout=90,
                 message=f"{name}'s 8 files verified on the shared target")
        assert node.metric("jaga_target_up", target="cloud") == 1

    engine = create_engine(url)
    with engine.connect() as conn:
        decided = conn.execute(text("SELECT marker_id FROM targets WHERE name = 'cloud'")).scalars().all()
    engine.dispose()
    assert len(decided) == 1 and _marker(moto_s3, cloud["bucket"])["marker_id"] == decided[0]
    for name, node in nodes.items():
        assert not node.logged("target cloud is down"), node.log_tail()

    objects = _bucket(moto_s3, cloud["bucket"])
    for name in NODES:
        area = f"replica/nodes/{name}/"
        data = {key[len(area):].encode() for key in objects if key.startswith(area) and "/.jaga/" not in
                "/" + key[len(area):]}
        assert data == {f"up-{name}/".encode() + rel for rel in contents[name]}, name
        assert any(key.startswith(area + ".jaga/manifest/") for key in objects)
    assert all(key == "replica/.jaga-target" or key.startswith("replica/nodes/") for key in objects), objects

    for node in nodes.values():
        assert node.stop() == 0
    restorer = nodes["srv-a"]           # one server's config, the journal out of reach: the bucket alone
    restorer.doc["journal"] = {"url": UNREACHABLE_JOURNAL}
    restorer.write_config()
    for name in NODES:
        restored = tmp_path / f"restored-{name}"
        node = ("--node", name) if name != "srv-a" else ()    # srv-a's own tree: the config's node
        args = ("restore", "--from", "cloud", "--to", str(restored)) + node
        result = restorer.cli(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert tree(restored) == contents[name]   # one watch: its folder is the tree's root


def test_restore_of_another_nodes_tree_needs_a_shared_target(tmp_path):
    """A node-local target holds this server's files only: naming another node is a usage error, not an
    empty restore that looks like success."""
    node = Deployment(tmp_path, extra={"node": "srv-a"})
    result = node.cli("restore", "--from", "secondary", "--node", "srv-b", "--to", str(tmp_path / "out"))
    assert result.returncode == 2 and "target secondary is not shared" in result.stderr, result.stderr
    result = node.cli("restore", "--from", "secondary", "--node", "../srv-b", "--to", str(tmp_path / "out"))
    assert result.returncode == 2 and "a node name is" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_the_documented_multi_host_journal_url_finds_the_live_primary(postgres):
    """docs/fleet.md's URL form: hosts tried in order, a dead one skipped, only a read-write one taken."""
    single = postgres.create_database("multihost" + secrets.token_hex(4))
    url = single.replace("@127.0.0.1:%d/" % postgres.port, "@/") + (
        f"?host=127.0.0.1:{free_port()}&host=127.0.0.1:{postgres.port}&target_session_attrs=read-write")
    journal = Journal(url)
    try:
        journal.migrate()
        assert journal.decide_target("cloud-" + secrets.token_hex(3), "m-1")[0] == "m-1"
    finally:
        journal.close()

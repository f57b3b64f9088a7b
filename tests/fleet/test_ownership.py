"""Two nodes on one journal with identical configs (same watch, same target names): each sees, claims,
deletes, backfills and resets only its own files; claims never overlap; old rows become the node's."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from journal import Journal, JournalError, NodeInUse
from journal.migrate import upgrade
from journal.records import Incarnation, Outcome, ReplicaState
from tests.fleet.rig import at_once
from tests.test_journal import observe


@pytest.fixture
def fleet(journal_url):
    nodes = {name: Journal(journal_url, node=name) for name in ("srv-a", "srv-b")}
    nodes["srv-a"].migrate()
    yield nodes
    for journal in nodes.values():
        journal.close()


def test_same_paths_on_two_nodes_are_two_files_each_with_its_own_replicas(fleet):
    a, b = fleet["srv-a"], fleet["srv-b"]
    assert len(a.record_versions([observe(b"x"), observe(b"only-a")], ["local"])) == 2
    assert len(b.record_versions([observe(b"x")], ["local"])) == 1, "node b's x is not node a's x"
    assert a.totals() == (2, 20) and b.totals() == (1, 10)
    assert sorted(a.current_paths("uploads", b"", None, 10)) == [b"only-a", b"x"]
    assert b.current_paths("uploads", b"", None, 10) == [b"x"]
    assert set(b.known_states("uploads", [b"x", b"only-a"])) == {b"x"}
    assert [job.path for job in b.claim("local", 10)] == [b"x"]
    assert a.target_counts("local").pending == 2 and b.target_counts("local").pending == 1


def test_a_node_deletes_backfills_resets_and_releases_only_its_own_files(fleet):
    a, b = fleet["srv-a"], fleet["srv-b"]
    a.record_versions([observe(b"x"), observe(b"dir/y")], ["local"])
    b.record_versions([observe(b"x"), observe(b"dir/y")], ["local"])
    assert b.mark_deleted([("uploads", b"x")], time.time(), folders=[("uploads", b"dir")]) == 2
    assert a.totals()[0] == 2, "node b's deletions marked node a's files deleted"
    assert a.backfill("s3") == 2 and b.backfill("s3") == 0, "a node queued another node's files for its target"
    a_boot, b_boot = Incarnation("srv-a", "run", "t"), Incarnation("srv-b", "run", "t")
    a.register_node(a_boot)
    claimed = a.claim("local", 1)            # anonymous claim of node a (from before 0005)
    assert b.reset_copying("srv-b", b_boot.boot_id) == 0, "node b's start reset node a's claim"
    assert b.release_claims("local", [], holder=None) == 0, "node b gave node a's claim back"
    assert a.release_claims("local", [], holder=None) == len(claimed) == 1


def test_node_local_targets_of_the_same_name_have_their_own_markers(fleet):
    a, b = fleet["srv-a"], fleet["srv-b"]
    a.record_target("local", "a" * 32)
    assert b.target_marker("local") is None
    b.record_target("local", "b" * 32)
    assert (a.target_marker("local"), b.target_marker("local")) == ("a" * 32, "b" * 32)
    for journal in (a, b):
        journal.share_targets(["s3"])
    a.record_target("s3", "c" * 32)
    assert b.target_marker("s3") == "c" * 32, "a shared target has one marker for the fleet"


def test_alerts_of_one_node_are_not_another_nodes(fleet):
    from journal.records import FIRING, AlertRecord
    a, b = fleet["srv-a"], fleet["srv-b"]
    a.open_alert(AlertRecord("TargetDown/local", "TargetDown", "critical", FIRING, "local", "down", 1.0, None, None))
    assert b.firing_alerts() == {}
    b.update_alert("TargetDown/local", state="resolved", resolved_at=2.0)
    assert list(a.firing_alerts()) == ["TargetDown/local"], "node b resolved node a's alert"


def test_concurrent_claims_never_take_a_replica_twice(fleet, journal_url):
    """Four claimants of one node at once: on PostgreSQL FOR UPDATE SKIP LOCKED keeps them apart."""
    a = fleet["srv-a"]
    a.record_versions([observe(f"f{i}".encode()) for i in range(400)], ["t"])
    claimants = [Journal(journal_url, node="srv-a") for _ in range(4)]
    taken: list[list[int]] = [[] for _ in claimants]

    def drain(index: int) -> None:
        holder = f"{index:032d}"
        while jobs := claimants[index].claim("t", 7, holder=holder):
            taken[index].extend(job.replica_id for job in jobs)
            claimants[index].finish([Outcome(job, ReplicaState.VERIFIED, sha256="0" * 64) for job in jobs],
                                    holder=holder)

    assert at_once(drain, list(range(len(claimants))), 120) == []
    for journal in claimants:
        journal.close()
    ids = [i for part in taken for i in part]
    assert len(ids) == len(set(ids)) == 400, f"{len(ids) - len(set(ids))} replica(s) claimed twice"
    assert a.target_counts("t").verified == 400


def test_rows_from_before_nodes_become_the_first_starting_nodes(journal_url):
    old = Journal(journal_url, node="srv-a")
    try:
        upgrade(old.engine, "0005")
        with old.engine.begin() as conn:
            conn.execute(text("INSERT INTO files (watch, path, current_version, size, mtime_ns) "
                              "VALUES ('uploads', :p, 1, 3, 1)"), {"p": b"old"})
            conn.execute(text("INSERT INTO targets (name, marker_id, initialised_at) VALUES ('local', 'm', 1)"))
        old.migrate()
        assert old.current_paths("uploads", b"", None, 10) == []
        old.register_node(Incarnation("srv-a", "run", "t"))
        assert old.current_paths("uploads", b"", None, 10) == [b"old"]
        assert old.target_marker("local") == "m"
    finally:
        old.close()


def test_a_start_refuses_a_name_another_live_host_runs_under(fleet):
    a, b = fleet["srv-a"], fleet["srv-b"]
    a.register_node(Incarnation("srv-a", "run", "t", host="host-one"))
    with pytest.raises(NodeInUse, match="node srv-a is running on host-one .*give this server its own `node:`"):
        b.register_node(Incarnation("srv-a", "run", "t", host="host-two"))
    a.register_node(Incarnation("srv-a", "run", "t", host="host-one"))  # the same host: a restart after a kill


def test_migrations_started_at_the_same_instant_both_succeed(postgres):
    url = postgres.create_database("m" + str(time.time_ns()))
    journals = [Journal(url, node=f"n{i}") for i in range(4)]
    for journal in journals:  # connected beforehand: the migrations, not the logins, start together
        journal.engine.connect().close()
    errors = at_once(Journal.migrate, journals, 60)
    for journal in journals:
        journal.close()
    assert errors == []


def test_a_schema_newer_than_this_jaga_is_refused(journal_url):
    journal = Journal(journal_url)
    try:
        journal.migrate()
        with journal.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        with pytest.raises(JournalError, match="^the journal's schema is at revision 0999, newer than this jaga "
                                               r"knows \(\d+\): upgrade jaga on this server$"):
            journal.migrate()
    finally:
        journal.close()

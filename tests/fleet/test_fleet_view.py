"""The fleet seen from any node: `jaga status --fleet`, `jaga report --by node`, NodeSilent."""

from __future__ import annotations

import json
import time

from journal import Journal
from journal.records import Incarnation, Outcome, ReplicaState
from monitor.conditions import node_conditions, subject_labels
from tests.harness import Deployment
from tests.test_journal import observe


def three_nodes(url: str) -> None:
    """srv-a beating, srv-b silent for 10 minutes, srv-c stopped cleanly; files and backlogs of each."""
    for name, files in (("srv-a", 3), ("srv-b", 2), ("srv-c", 1)):
        journal = Journal(url, node=name)
        try:
            journal.migrate()
            me = Incarnation(name, "run", "test", host=f"host-{name}")
            journal.register_node(me)
            journal.record_versions([observe(f"{name}-{i}".encode()) for i in range(files)], ["local", "cloud"])
            (job,) = journal.claim("local", 1)
            journal.finish([Outcome(job, ReplicaState.VERIFIED, sha256="0" * 64)])
            if name == "srv-b":
                with journal.session() as session:
                    session.execute(journal_nodes_update(name, time.time() - 600))
        finally:
            if name == "srv-c":
                journal.close()            # a clean stop
            else:
                journal.engine.dispose()   # still running (srv-a), or killed long ago (srv-b)


def journal_nodes_update(name: str, when: float):
    from sqlalchemy import update
    from journal.models import NodeRow
    return update(NodeRow).where(NodeRow.name == name).values(heartbeat_at=when)


def test_status_fleet_and_report_by_node_show_every_node(tmp_path):
    d = Deployment(tmp_path)
    three_nodes(f"sqlite:///{tmp_path}/journal.db")
    result = d.cli("status", "--fleet", "--json")
    assert result.returncode == 1, "a silent node is a problem: " + result.stdout + result.stderr
    nodes = {n["name"]: n for n in json.loads(result.stdout)["nodes"]}
    assert {name: n["state"] for name, n in nodes.items()} == {"srv-a": "running", "srv-b": "silent",
                                                               "srv-c": "stopped"}
    assert nodes["srv-b"]["heartbeat_age_seconds"] >= 600
    assert nodes["srv-a"]["backlog"] == {"cloud": {"pending": 3, "failed": 0, "oldest_pending_seconds":
                                                   nodes["srv-a"]["backlog"]["cloud"]["oldest_pending_seconds"]},
                                         "local": {"pending": 2, "failed": 0, "oldest_pending_seconds":
                                                   nodes["srv-a"]["backlog"]["local"]["oldest_pending_seconds"]}}
    assert {t: b["pending"] for t, b in nodes["srv-c"]["backlog"].items()} == {"cloud": 1}
    table = d.cli("status", "--fleet")
    assert "srv-b" in table.stdout and "silent" in table.stdout and "local 1/0" in table.stdout, table.stdout

    report = d.cli("report", "--by", "node", "--json")
    assert report.returncode == 0, report.stderr
    rows = {r["key"]: (r["files"], r["verified_everywhere"]) for r in json.loads(report.stdout)["rows"]}
    assert rows == {"srv-a": (3, 0), "srv-b": (2, 0), "srv-c": (1, 0)}


def test_node_silent_names_only_other_nodes_that_did_not_stop(tmp_path):
    url = f"sqlite:///{tmp_path}/journal.db"
    three_nodes(url)
    journal = Journal(url, node="srv-a")
    try:
        found = node_conditions(journal.nodes(), "srv-a", 120.0, time.time())
        assert [(c.key, c.alertname) for c in found] == [("node:srv-b:NodeSilent", "NodeSilent")]
        assert "host-srv-b" in found[0].summary and "10m" in found[0].summary, found[0].summary
        assert node_conditions(journal.nodes(), "srv-b", 120.0, time.time()) == [], "a node is never silent to itself"
        assert subject_labels(found[0].key, "NodeSilent") == {"node": "srv-b"}
    finally:
        journal.close()

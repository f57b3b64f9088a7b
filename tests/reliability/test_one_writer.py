"""Two jaga processes on one journal: the second refuses at once, naming the process that holds it, and
touches nothing of the first one's work; a start-up that fails after claims were taken gives them back.
"""

from __future__ import annotations

import os
import socket
import subprocess

import yaml

from tests.harness import jaga_command, temporaries, write_file
from tests.invariants import assert_all_replicated, assert_nothing_left_copying
from tests.reliability.rig import RigDeployment, wait_for

HOST = socket.gethostname()


def attempt(config, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(jaga_command("-c", str(config), *args), capture_output=True, text=True,
                          timeout=timeout, cwd=config.parent)


def assert_refused(result: subprocess.CompletedProcess, holder_pid: int, what: str) -> None:
    """Exit 1, nothing on stdout, one line on stderr that names the holder's pid and host."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, f"{what}: a traceback instead of a refusal:\n{result.stderr}"
    assert result.returncode == 1, f"{what}: exit {result.returncode}, expected 1:\n{result.stderr}"
    assert len(lines) == 1, f"{what}: expected one line, got:\n{result.stderr}"
    assert f"pid {holder_pid}" in lines[0] and HOST in lines[0], f"{what}: holder not named: {lines[0]}"
    assert result.stdout.strip() == "", f"{what}: printed {result.stdout!r}"


def second_config(d: RigDeployment, name: str, **changes) -> object:
    """The same deployment (journal, folders, targets) with some keys changed, e.g. another port."""
    doc = yaml.safe_load(d.config_path.read_text())
    for section, values in changes.items():
        doc.setdefault(section, {}).update(values)
    path = d.base / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_second_run_refuses_and_the_first_keeps_its_claims_and_temporaries(rig):
    d = rig.deployment()
    d.start()
    writer = rig.writer(d.uploads, count=250, rate=100, sizes=(20_000, 400_000), seed=11)
    writer.start()
    wait_for(lambda: d.counter("jaga_replicas_verified_total", target="secondary") >= 20, timeout=30,
             message="the first daemon replicating")

    # the same config (its port is taken) and the same journal on another port: both refuse
    assert_refused(attempt(d.config_path, "run", timeout=30), d.process.pid, "run with the same config")
    other = second_config(d, "other-port.yaml", metrics={"listen": f"127.0.0.1:{rig_port()}"})
    assert_refused(attempt(other, "run", timeout=30), d.process.pid, "run on another port")

    written = writer.finish()
    wait_for(lambda: d.all_verified(written), timeout=60, interval=0.2,
             message="every upload verified by the first daemon")
    assert d.log_count("jaga started") == 1
    assert d.stop() == 0
    assert_nothing_left_copying(d)
    assert_all_replicated(d)


def test_sync_repair_and_restore_into_a_watched_folder_refuse_while_the_daemon_runs(rig):
    d = rig.deployment()
    d.start()
    rels = [f"hibah/{i:02d}.pdf".encode() for i in range(12)]
    for rel in rels:
        write_file(d.uploads / rel.decode(), rel * 500)
    wait_for(lambda: d.all_verified(rels), message="first files verified")
    pid = d.process.pid

    assert_refused(attempt(d.config_path, "sync", "--timeout", "20"), pid, "sync")
    assert_refused(attempt(d.config_path, "verify", "--repair"), pid, "verify --repair")
    assert_refused(attempt(d.config_path, "restore", "--from", "secondary", "--to", str(d.uploads)), pid,
                   "restore into the watched folder")
    assert_refused(attempt(d.config_path, "restore", "--from", "secondary", "--to", str(d.uploads / "hibah")),
                   pid, "restore into a folder inside the watched one")

    # what cannot collide with the daemon still works while it runs, and says who writes
    writer = d.status()["writer"]
    assert (writer["state"], writer["command"], writer["pid"], writer["host"]) == ("running", "run", pid, HOST)
    assert attempt(d.config_path, "verify").returncode == 0
    elsewhere = d.base / "restored"
    restored = attempt(d.config_path, "restore", "--from", "secondary", "--to", str(elsewhere))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert sorted(p.name for p in (elsewhere / "hibah").iterdir()) == \
        sorted(rel.decode().split("/")[1] for rel in rels)

    assert d.stop() == 0
    assert d.status()["writer"]["state"] == "stopped"
    assert_nothing_left_copying(d)
    assert_all_replicated(d)


def test_a_busy_port_at_start_is_one_line_and_gives_every_claim_back(rig):
    d = rig.deployment()
    d.replica.write_bytes(b"not a folder")   # first the target cannot be initialised: a backlog builds
    rels = []
    for i in range(800):
        rel = f"burst/{i % 10}/{i:04d}.pdf"
        write_file(d.uploads / rel, rel.encode() * 300)
        rels.append(rel.encode())
    d.start()
    wait_for(lambda: d.open_replicas() == len(rels), timeout=60, message="800 files journaled, none copied")
    assert d.stop() == 0
    d.replica.unlink()

    # the target works now, so the start claims copies at once; then the port turns out to be taken
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", d.port))
        squatter.listen()
        result = attempt(d.config_path, "run", timeout=60)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("jaga: ") and f"127.0.0.1:{d.port}" in last and "in use" in last, last
    assert_nothing_left_copying(d)
    assert temporaries(d.replica) == []

    d.start()  # the port is free again: the same journal starts and drains
    wait_for(lambda: d.all_verified(rels), timeout=90, interval=0.3, message="backlog drained after the retry")
    assert d.stop() == 0
    assert_nothing_left_copying(d)
    assert_all_replicated(d)


def test_a_second_run_on_a_postgresql_journal_refuses(rig, postgres):
    url = postgres.create_database("w" + os.urandom(6).hex())
    first = node_deployment(rig, "a", url)
    second = node_deployment(rig, "b", url)
    first.start()
    write_file(first.uploads / "x.pdf", b"x" * 1000)
    wait_for(lambda: first.verified_count() == 1, message="first daemon replicating on PostgreSQL")
    assert_refused(attempt(second.config_path, "run", timeout=30), first.process.pid, "run on PostgreSQL")

    # the lock lives on its own connection: when the server drops it, the daemon takes it again
    killed = postgres_sql(postgres, url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE application_name LIKE 'jaga run%'")
    assert killed == 1, f"expected the one lock connection of the first daemon, terminated {killed}"
    wait_for(lambda: "writer lock taken again" in first.log_text(), timeout=30,
             message="the daemon noticing its lost lock connection and taking the lock again")
    assert_refused(attempt(second.config_path, "run", timeout=30), first.process.pid, "run after a reconnect")
    write_file(first.uploads / "y.pdf", b"y" * 1000)
    wait_for(lambda: first.verified_count() == 2, message="still replicating after the reconnect")
    assert first.stop() == 0
    assert postgres_sql(postgres, url, "SELECT count(*) FROM replicas WHERE state = 'copying'") == 0


def node_deployment(rig, name: str, url: str) -> RigDeployment:
    d = RigDeployment(rig.base / name, settle="300ms")
    d.doc["journal"]["url"] = url
    d.doc["retry"] = {"initial": "100ms", "maximum": "1s"}
    d.write_config()
    rig.deployments.append(d)
    return d


def postgres_sql(postgres, url: str, sql: str):
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def rig_port() -> int:
    from tests.harness import free_port
    return free_port()

"""A fleet on this machine: daemons with identical configs apart from ``node`` (each its own upload
folder and local target), one PostgreSQL journal, one shared S3 target."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.harness import Deployment, wait_for, write_file


class Node(Deployment):
    def __init__(self, base: Path, name: str, journal_url: str, s3: dict, **kwargs):
        super().__init__(base, settle="300ms", targets=[{"name": "local", "type": "local", "path": "replica"},
                                                        s3], **kwargs)
        self.name = name
        self.doc["node"] = name
        self.doc["journal"] = {"url": journal_url}
        self.doc["logging"] = {"level": "debug"}
        self.write_config()
        self._engine = create_engine(journal_url, pool_size=1, pool_pre_ping=True)

    def journal_rows(self, sql: str, params: dict | None = None) -> list[tuple]:
        with self._engine.begin() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params or {})]

    def own_verified(self) -> set[bytes]:
        """This node's paths whose newest version is verified on every target (two)."""
        rows = self.journal_rows(
            "SELECT f.path FROM files f JOIN versions v ON v.file_id = f.id AND v.number = f.current_version "
            "JOIN replicas r ON r.version_id = v.id WHERE f.node = :node GROUP BY f.id, f.path "
            "HAVING count(*) = 2 AND min(CASE WHEN r.state = 'verified' THEN 1 ELSE 0 END) = 1",
            {"node": self.name})
        return {bytes(path) for (path,) in rows}

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self._engine.dispose()


def at_once(function, items: list, timeout: float = 90) -> list[Exception]:
    """``function(item)`` for every item, each in its own thread, all let go at the same instant (a
    barrier); the exceptions they raised."""
    barrier, errors = threading.Barrier(len(items)), []

    def run(item) -> None:
        barrier.wait()
        try:
            function(item)
        except Exception as exc:  # noqa: BLE001 - collected for the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors


def start_together(nodes: list[Node]) -> None:
    """Every daemon started at the same instant (a barrier before each Popen), each then healthy."""
    errors = at_once(Node.start, nodes)
    assert not errors, errors


class Uploads(threading.Thread):
    """Files streaming into one node: the same names on every node (other bytes) and names of its own."""

    def __init__(self, node: Node, count: int, seed: int):
        super().__init__(daemon=True)
        self.node, self.count, self.random = node, count, random.Random(seed)
        self.written: dict[bytes, bytes] = {}
        self.pause = threading.Event()

    def run(self) -> None:
        for i in range(self.count):
            rel = f"common/{i:03d}.pdf" if i % 2 else f"own/{self.node.name}-{i:03d}.pdf"
            data = (f"{self.node.name} {i} ".encode() * 64) + os.urandom(self.random.randint(1_000, 60_000))
            write_file(self.node.uploads / rel, data)
            self.written[rel.encode()] = data
            threading.Event().wait(0.02)

    def finish(self) -> dict[bytes, bytes]:
        self.join(120)
        return dict(self.written)


def wait_all_verified(nodes: list[Node], written: dict[str, dict[bytes, bytes]], timeout: float = 120) -> None:
    for node in nodes:
        wait_for(lambda node=node: node.own_verified() >= set(written[node.name]), timeout=timeout, interval=0.5,
                 message=f"every file of {node.name} verified on both targets")

"""This process as a writer of the journal: one incarnation per run, named after the config's node."""

from __future__ import annotations

import time

from jaga import __version__
from journal.records import Incarnation, NodeRecord

HEARTBEAT = 5.0  # seconds between a running daemon's heartbeats (and checks that its writer lock holds)
SILENT = 3 * HEARTBEAT  # no heartbeat for this long and no clean stop: crashed, hung, or a one-shot command


def incarnation(config, command: str) -> Incarnation:
    return Incarnation(node=config.node_name, command=command, version=__version__)


def writer_state(node: NodeRecord, now: float | None = None) -> str:
    """"running", "stopped" (cleanly), or "silent" (see SILENT)."""
    now = time.time() if now is None else now
    if node.stopped_at is not None:
        return "stopped"
    return "running" if now - node.heartbeat_at < SILENT else "silent"


def open_journal(config):
    """The journal as this config's node sees it: its own files, its own and the fleet's shared targets."""
    from journal import Journal

    journal = Journal(config.journal.url, node=config.node_name)
    journal.share_targets(t.name for t in config.targets if t.shared)
    return journal

"""What `jaga status` shows: what the journal knows, and whether each target is reachable right now.

Collected here as a dict; `jaga.commands.status` prints it.
"""

from __future__ import annotations

import json
import time
import urllib.request

from jaga.config import Config
from jaga.writer import writer_state
from journal import Journal
from replication.factory import build_target
from replication.readiness import ensure_ready
from replication.target import TargetDown, TargetError


def collect_status(config: Config, journal: Journal) -> dict:
    files, size = journal.totals()
    now = time.time()
    targets = {}
    for target_config in config.targets:
        counts = journal.target_counts(target_config.name)
        up, reason = _probe(target_config, journal)
        targets[target_config.name] = {
            "type": target_config.type,
            "verified": counts.verified,
            "pending": counts.pending,
            "failed": counts.failed,
            "up": up,
            "down_reason": reason,
            "oldest_pending_seconds": round(now - counts.oldest_pending_at, 3) if counts.oldest_pending_at else None,
        }
    live = fetch_live(config)
    return {"files": files, "bytes": size, "targets": targets, "skipped": journal.skip_counts(),
            "daemon": "running" if live else "not reachable", "writer": _writer(config, journal, now),
            "disks": [{k: d.get(k) for k in ("device", "model", "serial", "health", "reasons", "temperature_c")}
                      for d in (live or {}).get("disks", [])],
            "alerts": [{k: a[k] for k in ("alertname", "severity", "subject", "summary", "started_at")}
                       for a in (record.to_json() for record in journal.firing_alerts().values())]}


def _writer(config: Config, journal: Journal, now: float) -> dict | None:
    """The process that holds (or last held) this node's writer lock, as its row in the journal says."""
    for node in journal.nodes():
        if node.name == config.node_name:
            return {**node.to_json(), "state": writer_state(node, now),
                    "heartbeat_age_seconds": round(now - node.heartbeat_at, 1)}
    return None


def fetch_live(config: Config) -> dict | None:
    """The running daemon's own view (disks, live target state), if it answers on its listener."""
    host, port = config.metrics.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/status", timeout=3) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _probe(target_config, journal: Journal) -> tuple[bool, str | None]:
    target = build_target(target_config)
    try:
        if journal.target_marker(target.name) is None:
            marker = target.read_marker()
            return True, None if marker else "not initialised yet (the daemon writes its marker on first use)"
        ensure_ready(target, journal)
        return True, None
    except (TargetDown, TargetError) as exc:
        return False, str(exc)
    finally:
        target.close()

"""What `jaga status` shows: what the journal knows, and whether each target is reachable right now.

Collected here as a dict; `jaga.commands.status` prints it.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.request

from jaga.config import Config
from jaga.web.webconfig import WebConfigError, load_web_config
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
        up, reason = _probe(target_config, config.node_name, journal)
        targets[target_config.name] = {
            "type": target_config.type,
            "verified": counts.verified,
            "pending": counts.pending,
            "failed": counts.failed,
            "up": up,
            "down_reason": reason,
            "oldest_pending_seconds": round(now - counts.oldest_pending_at, 3) if counts.oldest_pending_at else None,
        }
    live, note = fetch_live(config)
    return {"files": files, "bytes": size, "targets": targets, "skipped": journal.skip_counts(),
            "daemon": "running" if live is not None or note else "not reachable", "live_note": note,
            "writer": _writer(config, journal, now),
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


USER_ENV, PASSWORD_ENV = "JAGA_WEB_USER", "JAGA_WEB_PASSWORD"


def fetch_live(config: Config) -> tuple[dict | None, str | None]:
    """The running daemon's own view (disks, live target state), if it answers on its listener; else
    None and, when it answered but would not tell, why (e.g. it wants a password)."""
    host, port = config.metrics.address
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url_host = f"[{host}]" if ":" in host else host
    try:
        security = load_web_config(config.metrics.web_config)
    except WebConfigError as exc:
        return None, str(exc).splitlines()[0]
    headers, context = {}, None
    if security.cert_file is not None:
        context = _pinned(security.cert_file)
        if os.environ.get(USER_ENV):
            pair = f"{os.environ[USER_ENV]}:{os.environ.get(PASSWORD_ENV, '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    scheme = "https" if context else "http"
    request = urllib.request.Request(f"{scheme}://{url_host}:{port}/api/status", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=3, context=context) as response:
            return json.loads(response.read()), None
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return None, f"the listener wants a password: set {USER_ENV} and {PASSWORD_ENV} to see disks"
        return None, f"the listener answered {exc.code}"
    except (OSError, ValueError):
        return None, None


def _pinned(cert_file) -> ssl.SSLContext:
    """Trust exactly the certificate the daemon serves, whatever names it holds: this is the same host."""
    context = ssl.create_default_context(cafile=str(cert_file))
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def _probe(target_config, node: str, journal: Journal) -> tuple[bool, str | None]:
    target = build_target(target_config, node)
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

"""/healthz: is the process turning. /readyz: can jaga protect a new upload right now. /api/status."""

from __future__ import annotations

from jaga.web.source import StatusSource

STALL_LIMIT = 30.0   # a loop silent this long is stalled: /healthz fails and systemd's watchdog fires


def health(source: StatusSource) -> tuple[int, dict]:
    age = source.heartbeat_age()
    ok = age < STALL_LIMIT
    return (200 if ok else 503), {"status": "ok" if ok else "stalled", "main_loop_age_seconds": round(age, 3)}


def readiness(source: StatusSource) -> tuple[int, dict]:
    reasons = []
    problem = source.journal_problem()
    if problem:
        reasons.append(f"journal not writable: {problem}")
    status = source.replication_status()
    if not any(t["up"] for t in status.values()):
        reasons.append("no replica target is up: " + "; ".join(
            f"{name}: {t['down_reason']}" for name, t in status.items()))
    reasons.extend(source.watch_problems())
    body = {"ready": not reasons, "reasons": reasons,
            "targets": {name: {"up": t["up"], "pending": t["pending"]} for name, t in status.items()}}
    return (200 if not reasons else 503), body


def live_status(source: StatusSource) -> dict:
    """What only the running daemon knows: targets' live state, disks, filesystems, firing alerts."""
    return {"targets": source.replication_status(), "disks": source.disk_summary(),
            "filesystems": source.filesystem_summary(), "smart_coverage": source.coverage_summary(),
            "alerts": source.firing_alerts(), "fleet": source.fleet_summary()}

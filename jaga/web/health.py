"""/healthz: is the process turning. /readyz: can jaga protect a new upload right now."""

from __future__ import annotations

HEARTBEAT_LIMIT = 30.0


def health(daemon) -> tuple[int, dict]:
    age = daemon.heartbeat_age()
    ok = age < HEARTBEAT_LIMIT
    return (200 if ok else 503), {"status": "ok" if ok else "stalled", "main_loop_age_seconds": round(age, 3)}


def readiness(daemon) -> tuple[int, dict]:
    reasons = []
    problem = daemon.journal_problem()
    if problem:
        reasons.append(f"journal not writable: {problem}")
    status = daemon.replication_status()
    if not any(t["up"] for t in status.values()):
        reasons.append("no replica target is up: " + "; ".join(
            f"{name}: {t['down_reason']}" for name, t in status.items()))
    if daemon.monitor is not None:
        reasons.extend(daemon.monitor.watch_problems())
    body = {"ready": not reasons, "reasons": reasons,
            "targets": {name: {"up": t["up"], "pending": t["pending"]} for name, t in status.items()}}
    return (200 if not reasons else 503), body

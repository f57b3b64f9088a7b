"""The dates and times an operator types for ``--since``, ``--until`` and ``--at``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def parse_day(text: str | None, end: bool = False) -> float | None:
    """``2026-11-01`` (local midnight) or a full ISO time; ``--until`` takes the whole day given."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment.timestamp()


def parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()

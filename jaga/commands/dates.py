"""The dates and times an operator types for ``--since``, ``--until`` and ``--at``, in local time.

Indonesian offices write dates day first (``01/12/2026`` is 1 December), so that is the only slash
form accepted; ISO dates and times work too. Anything else is refused rather than guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from jaga.commands import UsageError

FORMS = "today, yesterday, 2026-12-01, 01/12/2026 (day first) or a time such as 2026-12-01T08:00"
HELP = FORMS + "; local time (the machine's time zone, or $TZ) unless it has an offset such as +07:00"
DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def parse_moment(text: str | None, option: str, end_of_day: bool = False, today: date | None = None
                 ) -> float | None:
    """A Unix time (None for an option not given). A day means its local midnight, or with
    ``end_of_day`` the next midnight (the whole day included); a time without an offset is local;
    ``today`` is for tests."""
    if text is None:
        return None
    day = _day(text.strip().lower(), today or date.today())
    if day is not None:
        return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time()).timestamp()
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date or time: use {FORMS}") from None


def _day(text: str, today: date) -> date | None:
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    slashed = DAY_FIRST.fullmatch(text)
    try:
        if slashed:
            day, month, year = (int(part) for part in slashed.groups())
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        return None

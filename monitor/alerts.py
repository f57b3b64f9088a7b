"""Alert state per key: firing once, reminded every ``repeat_interval``, resolved once; kept in the journal.

Each evaluation covers one scope (``disk:``, ``fs:``, ``target:``): the conditions true now are
given, and every firing alert of that scope not among them resolves. A poll that finds the same
problem again is therefore silent until the repeat interval has passed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from journal import Journal
from journal.records import FIRING, RESOLVED, AlertRecord
from monitor.notify import Dispatcher, Notification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    """Something wrong right now. ``key`` names it for its whole life, e.g. ``disk:sda:DiskFailing``."""

    key: str
    alertname: str
    severity: str      # critical | warning
    subject: str
    summary: str


class AlertManager:
    def __init__(self, journal: Journal, dispatcher: Dispatcher, repeat_interval: float,
                 clock: Callable[[], float] = time.time):
        self.journal = journal
        self.dispatcher = dispatcher
        self.repeat_interval = repeat_interval
        self.clock = clock
        self._lock = threading.Lock()   # scopes are evaluated from several scheduler jobs

    def evaluate(self, scope: str, conditions: list[Condition]) -> list[Notification]:
        """Bring the alerts of ``scope`` in line with ``conditions``; return what was sent."""
        with self._lock:
            now = self.clock()
            firing = self.journal.firing_alerts(scope)
            sent = [note for c in conditions if (note := self._fire(c, firing.get(c.key), now))]
            active = {c.key for c in conditions}
            sent += [self._resolve(record, now) for key, record in firing.items() if key not in active]
        for note in sent:
            self.dispatcher.submit(note)
        return sent

    def firing(self) -> list[AlertRecord]:
        return list(self.journal.firing_alerts().values())

    def _fire(self, condition: Condition, record: AlertRecord | None, now: float) -> Notification | None:
        if record is None:
            self.journal.open_alert(AlertRecord(
                condition.key, condition.alertname, condition.severity, FIRING, condition.subject,
                condition.summary, now, None, now))
            return _note(condition, now, FIRING)
        changed = record.severity != condition.severity
        due = record.last_notified_at is None or now - record.last_notified_at >= self.repeat_interval
        if changed or due:
            self.journal.update_alert(condition.key, severity=condition.severity, summary=condition.summary,
                                      last_notified_at=now)
            return _note(condition, record.started_at, FIRING)
        if record.summary != condition.summary:
            self.journal.update_alert(condition.key, summary=condition.summary)
        return None

    def firing_notes(self) -> list[Notification]:
        """Every firing alert as a notification, for notifiers that must be told again (Alertmanager)."""
        return [as_note(record, FIRING) for record in self.firing()]

    def _resolve(self, record: AlertRecord, now: float) -> Notification:
        self.journal.update_alert(record.key, state=RESOLVED, resolved_at=now)
        return as_note(record, RESOLVED)


def as_note(record: AlertRecord, status: str) -> Notification:
    return Notification(record.alertname, record.severity, record.subject, record.summary,
                        record.started_at, status, record.key)


def _note(condition: Condition, started: float, status: str) -> Notification:
    return Notification(condition.alertname, condition.severity, condition.subject, condition.summary,
                        started, status, condition.key)

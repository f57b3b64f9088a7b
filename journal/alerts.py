"""Alert history: which alerts fire now and what each one's life was (monitor.alerts decides).

Alerts are a node's own: two servers with the same disk names or targets never resolve each other's."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from journal.engine import Database
from journal.models import Alert
from journal.records import FIRING, AlertRecord


class AlertLog(Database):
    def firing_alerts(self, prefix: str = "") -> dict[str, AlertRecord]:
        """key → record of every firing alert whose key starts with ``prefix``, oldest first."""
        query = select(Alert).where(Alert.node == self.node, Alert.state == FIRING,
                                    Alert.key.startswith(prefix, autoescape=True))
        with self.reading() as session:
            return {row.key: _record(row) for row in session.scalars(query.order_by(Alert.started_at))}

    def alert_history(self, key: str) -> list[AlertRecord]:
        with self.reading() as session:
            rows = session.scalars(select(Alert).where(Alert.node == self.node, Alert.key == key).order_by(Alert.id))
            return [_record(row) for row in rows]

    def open_alert(self, record: AlertRecord) -> None:
        with self.session() as session:
            session.add(Alert(node=self.node, **asdict(record)))

    def update_alert(self, key: str, **values) -> None:
        """Change the firing alert ``key`` (severity, summary, last_notified_at, state, resolved_at)."""
        with self.session() as session:
            row = session.scalars(select(Alert).where(Alert.node == self.node, Alert.key == key,
                                                      Alert.state == FIRING)).first()
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)


def _record(row: Alert) -> AlertRecord:
    return AlertRecord(row.key, row.alertname, row.severity, row.state, row.subject, row.summary,
                       row.started_at, row.resolved_at, row.last_notified_at)

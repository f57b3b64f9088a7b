"""The monitor's journal queries: SMART samples (for rises and self-test timing) and alert history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from journal import Journal
from journal.models import Alert, SmartSample
from monitor.verdict import Sample

FIRING, RESOLVED = "firing", "resolved"


def save_samples(journal: Journal, device: str, polled_at: float, values: dict[str, str]) -> None:
    with journal.session() as session:
        session.add_all(SmartSample(device=device, polled_at=polled_at, attribute=name, value=str(value)[:64])
                        for name, value in values.items())


def latest_samples(journal: Journal, device: str, before: float | None = None) -> dict[str, Sample]:
    """The newest sample of each attribute of ``device`` (taken before ``before``, if given)."""
    newest = select(SmartSample.attribute, func.max(SmartSample.polled_at).label("at")) \
        .where(SmartSample.device == device)
    if before is not None:
        newest = newest.where(SmartSample.polled_at < before)
    newest = newest.group_by(SmartSample.attribute).subquery()
    query = select(SmartSample.attribute, SmartSample.value, SmartSample.polled_at).join(
        newest, (SmartSample.attribute == newest.c.attribute) & (SmartSample.polled_at == newest.c.at)) \
        .where(SmartSample.device == device)
    with journal.reading() as session:
        return {row.attribute: Sample(row.value, row.polled_at) for row in session.execute(query)}


def prune_samples(journal: Journal, older_than: float) -> int:
    with journal.session() as session:
        return session.execute(delete(SmartSample).where(SmartSample.polled_at < older_than)).rowcount or 0


@dataclass(frozen=True)
class AlertRecord:
    key: str
    alertname: str
    severity: str
    state: str
    subject: str
    summary: str
    started_at: float
    resolved_at: float | None
    last_notified_at: float | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _record(row: Alert) -> AlertRecord:
    return AlertRecord(row.key, row.alertname, row.severity, row.state, row.subject, row.summary,
                       row.started_at, row.resolved_at, row.last_notified_at)


def firing_alerts(journal: Journal, prefix: str = "") -> dict[str, AlertRecord]:
    query = select(Alert).where(Alert.state == FIRING, Alert.key.startswith(prefix, autoescape=True))
    with journal.reading() as session:
        return {row.key: _record(row) for row in session.scalars(query.order_by(Alert.started_at))}


def alert_history(journal: Journal, key: str) -> list[AlertRecord]:
    with journal.reading() as session:
        rows = session.scalars(select(Alert).where(Alert.key == key).order_by(Alert.id))
        return [_record(row) for row in rows]


def open_alert(journal: Journal, record: AlertRecord) -> None:
    with journal.session() as session:
        session.add(Alert(**record.__dict__))


def update_alert(journal: Journal, key: str, **values) -> None:
    with journal.session() as session:
        row = session.scalars(select(Alert).where(Alert.key == key, Alert.state == FIRING)).first()
        if row is not None:
            for name, value in values.items():
                setattr(row, name, value)

"""The journal: the one durable truth about every file version and every replica of it.

``Journal`` is the one facade; each concern lives in its own module: ``engine`` (sessions, read
snapshots, errors), ``targets``, ``ingest`` (versions, skips, deletions), ``queue`` (claims and
outcomes), ``history`` (a target's manifest taken in), ``reports``, ``scrubs``, ``alerts``,
``smart_samples``. Callers get plain records from ``journal.records``, never ORM rows. ``nodes`` and
``writerlock`` make sure one process at a time writes a node's part of it.
"""

from journal.alerts import AlertLog
from journal.engine import JournalError
from journal.history import History
from journal.ingest import IngestRecords
from journal.nodes import NodeInUse, NodeRegistry
from journal.queue import ReplicaQueue
from journal.reports import Reports
from journal.scrubs import ScrubLog
from journal.smart_samples import SmartSamples
from journal.targets import TargetRegistry
from journal.writerlock import JournalBusy


class Journal(NodeRegistry, TargetRegistry, IngestRecords, ReplicaQueue, History, Reports, ScrubLog, AlertLog,
              SmartSamples):
    """Durable record of file versions and replicas. Thread-safe: each call uses its own session."""


__all__ = ["Journal", "JournalBusy", "JournalError", "NodeInUse"]

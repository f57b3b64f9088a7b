"""``Journal``: the one facade over the journal's concerns (see the package's docstring)."""

from journal.alerts import AlertLog
from journal.history import History
from journal.ingest import IngestRecords
from journal.nodes import NodeRegistry
from journal.queue import ReplicaQueue
from journal.reports import Reports
from journal.scrubs import ScrubLog
from journal.smart_samples import SmartSamples
from journal.targets import TargetRegistry


class Journal(NodeRegistry, TargetRegistry, IngestRecords, ReplicaQueue, History, Reports, ScrubLog, AlertLog,
              SmartSamples):
    """Durable record of file versions and replicas. Thread-safe: each call uses its own session."""

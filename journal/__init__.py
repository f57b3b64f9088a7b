"""The journal: the one durable truth about every file version and every replica of it.

``Journal`` is the one facade; each concern lives in its own module: ``engine`` (sessions, read
snapshots, errors), ``targets``, ``ingest`` (versions, skips, deletions), ``queue`` (claims and
outcomes), ``history`` (a target's manifest taken in), ``reports``, ``scrubs``, ``alerts``,
``smart_samples``. Callers get plain records from ``journal.records``, never ORM rows. ``nodes`` and
``writerlock`` make sure one process at a time writes a node's part of it.
"""

import importlib

from journal.errors import JournalBusy, JournalError

# Where each public name lives, imported on first use (PEP 562): importing ``journal.records`` or
# catching ``JournalError`` does not load SQLAlchemy, so `jaga restore` and `jaga --help` start sooner.
_LAZY = {"Journal": "journal.facade", "NodeInUse": "journal.nodes"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'journal' has no attribute {name!r}")


__all__ = ["Journal", "JournalBusy", "JournalError", "NodeInUse"]

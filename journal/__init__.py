"""The journal: the one durable truth about every file version and every replica of it."""

from journal.store import Journal, JournalError

__all__ = ["Journal", "JournalError"]

"""The journal's errors, in a module of their own: a command that only needs to catch them (every
`jaga` command does) does not import SQLAlchemy to do so."""


class JournalError(Exception):
    """The journal could not be read or written (disk full, database down, ...)."""


class JournalBusy(JournalError):
    """Another process writes this node's part of the journal."""

    def __init__(self, journal: str, holder: str | None):
        self.journal = journal
        self.holder = holder or "another jaga process"
        super().__init__(f"the journal {journal} is in use by {self.holder}")

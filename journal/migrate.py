"""Apply Alembic migrations to the journal at start, with the journal's own connection.

Several nodes of a fleet may start at the same instant on one PostgreSQL journal: an advisory lock,
held for the migration's transaction, lets one migrate while the others wait and then find nothing
to do. A node never runs on a schema newer than it knows (a newer jaga migrated it): its queries
would miss what the new columns mean.

Alembic is imported when a migration runs, not with the journal: it is a third of a second of every
`jaga` command's start on a busy machine, and commands that never open the journal (`jaga restore`
from a replica, `check-config`) need none of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = int.from_bytes(hashlib.sha256(b"jaga migrations").digest()[:8], "big") >> 1


class SchemaTooNew(Exception):
    """The journal was migrated by a newer jaga than this one."""


def alembic_config(connection=None) -> "AlembicConfig":
    from alembic.config import Config as AlembicConfig
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: "Engine", revision: str = "head") -> None:
    from alembic import command
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        refuse_newer(connection)
        command.upgrade(alembic_config(connection), revision)


def refuse_newer(connection: "Connection") -> None:
    """SchemaTooNew, in one line, when the journal's revision is not one of ours."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    current = MigrationContext.configure(connection).get_current_heads()
    script = ScriptDirectory.from_config(alembic_config())
    for revision in current:
        try:
            known = script.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            raise SchemaTooNew(f"the journal's schema is at revision {revision}, newer than this jaga knows "
                               f"({script.get_current_head()}): upgrade jaga on this server")

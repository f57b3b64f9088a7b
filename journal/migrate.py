"""Apply Alembic migrations to the journal at start, with the journal's own connection.

Alembic is imported when a migration runs, not with the journal: it is a third of a second of every
`jaga` command's start on a busy machine, and commands that never open the journal (`jaga restore`
from a replica, `check-config`) need none of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection=None) -> "AlembicConfig":
    from alembic.config import Config as AlembicConfig
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: "Engine", revision: str = "head") -> None:
    from alembic import command
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)

"""Alembic environment: the journal passes its own connection in; nothing reads alembic.ini URLs."""

from alembic import context

from journal.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("jaga runs its migrations through journal.Journal.migrate(), which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

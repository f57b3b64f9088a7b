"""Rows updated by the batch in one statement, not one statement per row.

Why: the DBAPI runs an executemany row by row, and each row hands Python's GIL back while SQLite (or
the socket to PostgreSQL) works. With a dozen copy threads busy, every row then waits for the GIL
again: a 100-row executemany took 0.7 ms a row on this VM under a burst, against 8 µs idle, and it is
the dispatcher's commit, which every copy waits behind. One statement is one wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Table, case, literal
from sqlalchemy.engine import Connection

CHUNK = 500  # rows per statement: a few parameters each, inside SQLite's and PostgreSQL's limits


def update_by_id(conn: Connection, table: Table, rows: Mapping[int, Mapping[str, object]],
                 *conditions, **fixed) -> int:
    """``UPDATE table SET col = CASE id WHEN … END, … WHERE id IN (…) AND conditions``: each row its own
    values (``rows``: id → column → value), ``fixed`` the same for every row. Returns rows updated."""
    ids = sorted(rows)  # PostgreSQL locks in the index's order either way; sorted keeps batches alike
    updated = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        updated += conn.execute(table.update().where(table.c.id.in_(chunk), *conditions).values(
            **_per_row(table, chunk, rows), **fixed)).rowcount or 0
    return updated


def _per_row(table: Table, ids: Sequence[int], rows: Mapping[int, Mapping[str, object]]) -> dict:
    """A column every row gives the same value is set to it; the others take a CASE. Each value is bound
    with its column's type, so PostgreSQL knows it even when every row's is NULL."""
    values = {}
    for name in rows[ids[0]]:
        column = table.c[name]
        distinct = {rows[row_id][name] for row_id in ids}
        if len(distinct) == 1:
            values[name] = literal(distinct.pop(), column.type)
        else:
            values[name] = case({row_id: literal(rows[row_id][name], column.type) for row_id in ids},
                                value=table.c.id)
    return values

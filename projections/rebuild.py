"""The full rebuild of the views from the log (`ledger rebuild`).

The events are applied to a scratch SQLite copy of the view tables (the same view code,
no round trips), whose rows are then bulk-copied into the database; applying event by
event over the network would cost a round trip per statement. The copy is a throwaway
file (`scratch_copy`): held in memory it grew with the log (about 0.9 KB an event, most of
a gigabyte at a million events), while a file keeps the process's memory to SQLite's page
cache; nothing of it needs to survive a crash, so it is written without syncs. What the quarantine
holds stays held (a rebuild re-derives the views, a retry re-applies held events), and an
event that fails here is quarantined as in the catch-up.

The swap:
- PostgreSQL: the rows are copied (`COPY`) into new tables of a schema of the rebuild's
  own, with no secondary index; the indexes are built once the rows are in; then one short
  transaction takes the events table's lock (inserts and their inline view updates wait),
  drops the live tables, moves the new ones (their indexes with them) into the live
  schema and records the position. Readers see the old views until that commit, and
  writers wait only for the drop and move, not for the copy.
- SQLite: one transaction (SQLite has a single writer): every table emptied and filled
  again, and the position recorded.
Events recorded after the rebuild's end are applied by the catch-up after it.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from eventsourcing.persistence import Tracking

from projections import audit
from projections.quarantine import Held
from projections.recorded import Entry
from projections.sql import Sql

if TYPE_CHECKING:
    from projections.read_model import Applied, ReadModel


# The scratch copy's page cache (KiB): the hot pages (each view's current rows, the
# indexes' upper levels) fit, the appended history goes to the file.
SCRATCH_CACHE_KIB = 64 * 1024


@contextmanager
def scratch_copy() -> Iterator[sqlite3.Connection]:
    """A SQLite database in a temporary file, removed on exit, tuned as a throwaway: no
    syncs, the rollback journal in memory (savepoints still roll back, which the
    quarantine's per-event fallback needs), temporary tables in memory, and a statement
    cache large enough for every view's statements."""
    handle, path = tempfile.mkstemp(prefix="ledger-rebuild-", suffix=".sqlite3")
    os.close(handle)
    try:
        connection = sqlite3.connect(path, cached_statements=1024)
        try:
            connection.row_factory = sqlite3.Row
            for pragma in ("journal_mode = MEMORY", "synchronous = OFF",
                           f"cache_size = -{SCRATCH_CACHE_KIB}", "temp_store = MEMORY",
                           "locking_mode = EXCLUSIVE"):
                connection.execute(f"PRAGMA {pragma}")
            yield connection
        finally:
            connection.close()
    finally:
        os.unlink(path)


def _copy_table(source: Sql, target: Sql, table: str) -> None:
    # Plain tuples, not the copy's dict-like rows: they go to COPY (or executemany) as is.
    # Row by row from the cursor, never a batch held: the as-of checkpoints are up to a
    # megabyte a row, and 5,000 of them at once took 120 MB at a million events.
    rows_of = source.cursor.connection.cursor()
    rows_of.row_factory = None
    rows_of.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in rows_of.description]
    if target.postgres:
        # COPY streams the rows in one statement: far fewer round trips than INSERTs.
        with target.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows_of:
                copy.write_row(row)
        return
    insert = (f"INSERT INTO {table} ({', '.join(columns)}) "
              f"VALUES ({', '.join('?' * len(columns))})")
    target.cursor.executemany(insert, rows_of)  # the scratch cursor, read as it goes


@contextmanager
def _savepoint(memory: Sql) -> Iterator[Sql]:
    """A unit of the rebuild's scratch copy that can be undone alone (an event that fails
    there leaves nothing behind, like a rolled-back transaction)."""
    memory.run("SAVEPOINT unit")
    try:
        yield memory
    except BaseException:
        memory.run("ROLLBACK TO unit")
        memory.run("RELEASE unit")
        raise
    memory.run("RELEASE unit")


def _is_index(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))


def rebuild(read_model: ReadModel, batches: Iterable[Sequence[Entry]]) -> Applied:
    """Rebuilds every view from the log and swaps it in (see the module's docstring)."""
    from projections.read_model import Applied

    views = read_model._counts()
    held: list[Held] = []
    with scratch_copy() as scratch:
        # The scratch copy has no read-only index: a million rows would only maintain them.
        for statement in read_model._all_ddl():
            if not any(f" {index} " in statement for index in audit.READ_INDEXES):
                scratch.execute(statement)
        memory = Sql(scratch.cursor(), postgres=False)
        with read_model.reading() as sql:
            rows = sql.all("SELECT * FROM s_quarantine")
        if rows:
            columns = list(rows[0])
            memory.many(f"INSERT INTO s_quarantine ({', '.join(columns)}) VALUES "
                        f"({', '.join('?' * len(columns))})",
                        [tuple(row[c] for c in columns) for row in rows])
        scratch.commit()
        last = None
        for batch in batches:
            outcome = read_model.isolating(lambda: _savepoint(memory), batch, track=False)
            for name, count in outcome.views.items():
                views[name] += count
            held += outcome.failed
            last = batch[-1].position if batch else last
        # Rows of events after the rebuild's end are the catch-up's to make again.
        memory.run("DELETE FROM s_quarantine WHERE position > ?", last or 0)
        if read_model.postgres:
            _swap_postgres(read_model, memory, read_model._rebuilt_tables(),
                           read_model.rebuilt_ddl(), last)
        else:
            _swap_sqlite(read_model, memory, read_model._rebuilt_tables(), last)
    return Applied(views, held)


def _track(read_model: ReadModel, sql: Sql, last: int | None) -> None:
    sql.run(f"DELETE FROM {read_model.tracking_table()} WHERE application_name = ?",
            read_model.upstream)
    if last is not None:
        read_model.track_in(sql, Tracking(read_model.upstream, last))


def _swap_sqlite(read_model: ReadModel, memory: Sql, tables: list[str],
                 last: int | None) -> None:
    with read_model.writing() as sql:
        for table in tables:
            sql.run(f"DELETE FROM {table}")
            _copy_table(memory, sql, table)
        _track(read_model, sql, last)


def _swap_postgres(read_model: ReadModel, memory: Sql, tables: list[str], ddl: list[str],
                   last: int | None) -> None:
    shadow = f"rebuild_{secrets.token_hex(6)}"
    with read_model.writing() as sql:
        live = '"{}"'.format(str(sql.scalar("SELECT current_schema()")).replace('"', '""'))
    try:
        with read_model.writing() as sql:
            sql.run(f"CREATE SCHEMA {shadow}")
            # Unqualified names in this transaction mean the new tables.
            sql.run(f"SET LOCAL search_path TO {shadow}")
            for statement in ddl:
                if not _is_index(statement):
                    sql.run(statement)
            for table in tables:
                _copy_table(memory, sql, table)
            for statement in ddl:  # built once over all the rows, not row by row
                if _is_index(statement):
                    sql.run(statement)
        with read_model.writing() as sql:
            # Holds off inserts (and their inline view updates) until the swap has
            # committed; their events are applied by the catch-up after it.
            sql.run(f"LOCK TABLE {read_model.events_table} IN EXCLUSIVE MODE")
            for table in tables:
                sql.run(f"DROP TABLE {live}.{table}")
                sql.run(f"ALTER TABLE {shadow}.{table} SET SCHEMA {live}")
            _track(read_model, sql, last)
    finally:
        with read_model.writing() as sql:
            sql.run(f"DROP SCHEMA IF EXISTS {shadow} CASCADE")

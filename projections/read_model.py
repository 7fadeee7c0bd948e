"""The read model: every view's tables plus one tracking row, in the events' own database.

All views apply each event in one transaction together with the tracking position, so
an event is applied exactly once across crashes and restarts, and the single tracking
row SQLite allows (see shared/EVENTSOURCING.md) serves every view.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import Notification, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL

from projections import (
    aggregate_states,
    alerts,
    analytics,
    as_of,
    audit,
    hash_chain,
    idempotency_records,
    line_day_counts,
    lines,
    sub_accounts,
)
from projections.sql import Sql

if TYPE_CHECKING:
    from projections.runner import Recorded

VIEWS: tuple[ModuleType, ...] = (
    audit, sub_accounts, lines, line_day_counts, aggregate_states, analytics, alerts,
)
SERVICE_DDL = (
    *idempotency_records.DDL,
    "CREATE TABLE IF NOT EXISTS s_clock (id TEXT PRIMARY KEY, now TEXT NOT NULL)",
)
T = TypeVar("T")


def _all_ddl() -> list[str]:
    statements = [s for view in (*VIEWS, hash_chain, as_of) for s in view.DDL]
    return statements + list(SERVICE_DDL)


def _rebuilt_tables() -> list[str]:
    return [table for view in (*VIEWS, hash_chain, as_of) for table in view.TABLES]


def _copy_table(source: Sql, target: Sql, table: str, *, chunk: int = 5000) -> None:
    source.cursor.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in source.cursor.description]
    if target.postgres:
        # COPY streams the rows in one statement: far fewer round trips than INSERTs.
        with target.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            while rows := source.cursor.fetchmany(chunk):
                for row in rows:
                    copy.write_row(tuple(row))
        return
    insert = (f"INSERT INTO {table} ({', '.join(columns)}) "
              f"VALUES ({', '.join('?' * len(columns))})")
    while rows := source.cursor.fetchmany(chunk):
        target.many(insert, [tuple(row) for row in rows])


class ReadModel(TrackingRecorder):
    """Applies events to the views; reads run in their own read-only transactions."""

    upstream = "ledger"
    postgres = False
    events_table: str
    position_column: str

    def _transaction(self, *, commit: bool) -> Any:
        return self.datastore.transaction(commit=commit)  # type: ignore[attr-defined]

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        if self.postgres:
            # Autocommit: under READ COMMITTED each statement takes its own snapshot even
            # inside a transaction, so BEGIN and ROLLBACK would only add two round trips.
            with self.datastore.get_connection() as conn, conn.cursor() as cursor:  # type: ignore[attr-defined]
                yield Sql(cursor, postgres=True)
            return
        with self._transaction(commit=False) as cursor:
            yield Sql(cursor, postgres=self.postgres)

    @contextmanager
    def writing(self) -> Iterator[Sql]:
        with self._transaction(commit=True) as cursor:
            if not self.postgres:
                # Take SQLite's write lock first. The library opens a deferred transaction;
                # one that reads before it writes cannot wait for the lock once another
                # connection (an inline insert) has committed: SQLite answers "database
                # is locked" at once. A write statement first waits, like BEGIN IMMEDIATE.
                cursor.execute("UPDATE s_clock SET now = now WHERE 0")
            yield Sql(cursor, postgres=self.postgres)

    def read(self, query: Callable[..., T], /, **kwargs: Any) -> T:
        with self.reading() as sql:
            return query(sql, **kwargs)

    def position(self) -> int:
        return self.max_tracking_id(self.upstream) or 0

    def nothing_to_do(self, *, follower: str, topics: Sequence[str], lag: int) -> bool:
        """In one round trip: True when the views stand at the end of the log, and the
        follower (the policies) has no event of `topics` left to react to and lags the
        views by less than `lag`. Most catch-ups after an inline command end here."""
        marks = ", ".join("?" * len(topics)) or "NULL"
        log, position = self.events_table, self.position_column
        with self.reading() as sql:
            # The pending check is the first such event in log order: with ORDER BY and
            # LIMIT the index on the position is walked from the follower's position on.
            # As an EXISTS, PostgreSQL's generic plan (once the statement is prepared)
            # scanned the whole log: 14 ms at 300,000 events, and more as the log grows.
            row = sql.one(
                f"SELECT v.n AS views, f.n AS follower, h.n AS head, (SELECT {position} FROM "
                f"{log} WHERE {position} > f.n AND topic IN ({marks}) ORDER BY {position} "
                f"LIMIT 1) AS pending FROM "
                f"(SELECT COALESCE(MAX(notification_id), 0) AS n FROM {self.tracking_table()} "
                f"WHERE application_name = ?) AS v, "
                f"(SELECT COALESCE(MAX(notification_id), 0) AS n FROM {self.tracking_table()} "
                f"WHERE application_name = ?) AS f, "
                f"(SELECT COALESCE(MAX({position}), 0) AS n FROM {log}) AS h",
                *topics, self.upstream, follower)
        assert row is not None
        return (row["views"] == row["head"] and row["pending"] is None
                and row["views"] - row["follower"] < lag)

    def apply_batch(self, items: Sequence[Recorded]) -> dict[str, int]:
        """Applies (position, event) pairs and records the last position, all or nothing.

        A position recorded already raises the library's IntegrityError (another runner
        got there first) and the whole batch rolls back.
        """
        with self.writing() as sql:
            return self._apply(sql, items)

    def rebuild(self, batches: Iterable[Sequence[Recorded]]) -> dict[str, int]:
        """Rebuilds every view from the log and swaps it in, in one transaction: readers
        see the old views until the new ones are complete.

        The events are applied to an in-memory SQLite copy of the view tables (the same
        view code, no round trips), whose rows are then bulk-copied into the database;
        applying event by event over the network would cost a round trip per statement.
        """
        applied = {view.NAME: 0 for view in (*VIEWS, hash_chain)}
        scratch = sqlite3.connect(":memory:")
        scratch.row_factory = sqlite3.Row
        for statement in _all_ddl():
            if not any(f" {index} " in statement for index in audit.READ_INDEXES):
                scratch.execute(statement)
        memory = Sql(scratch.cursor(), postgres=False)
        last = None
        for batch in batches:
            for name, count in self._apply_views(memory, batch).items():
                applied[name] += count
            last = batch[-1].position if batch else last
        with self.writing() as sql:
            if self.postgres:
                # Holds off inserts (and their inline view updates) until the swap has
                # committed; their events are applied by the catch-up after it.
                sql.run(f"LOCK TABLE {self.events_table} IN EXCLUSIVE MODE")
            for table in _rebuilt_tables():
                sql.run(f"DELETE FROM {table}")
                _copy_table(memory, sql, table)
            sql.run(f"DELETE FROM {self.tracking_table()} WHERE application_name = ?",
                    self.upstream)
            if last is not None:
                self._insert_tracking(sql.cursor, Tracking(self.upstream, last))
        scratch.close()
        return applied

    def apply_in(self, sql: Sql, items: Sequence[Recorded], *, chain_head: str) -> dict[str, int]:
        """Applies the items and records their position in the caller's transaction (the
        event store's own insert, see `projections.inline`), which read the chain's head."""
        return self._apply(sql, items, chain_head=chain_head)

    def _apply(self, sql: Sql, items: Sequence[Recorded], *,
               chain_head: str | None = None) -> dict[str, int]:
        applied = self._apply_views(sql, items, chain_head=chain_head)
        if items:
            self._insert_tracking(sql.statement_cursor(),
                                  Tracking(self.upstream, items[-1].position))
        return applied

    def _apply_views(self, sql: Sql, items: Sequence[Recorded], *,
                     chain_head: str | None = None) -> dict[str, int]:
        applied = {view.NAME: 0 for view in VIEWS}
        for position, event, _ in items:
            for view in VIEWS:
                if view.apply(sql, position, event):
                    applied[view.NAME] += 1
        applied[hash_chain.NAME] = hash_chain.extend(
            sql, (item.notification for item in items), previous=chain_head)
        if items:
            as_of.count_and_checkpoint(sql, first=items[0].position - 1,
                                       last=items[-1].position)
        return applied

    def notifications(self, positions: Sequence[int]) -> list[Notification]:
        """Stored events by log position (for as-of replicas), in log order."""
        found: list[Notification] = []
        with self.reading() as sql:
            for start in range(0, len(positions), 500):
                chunk = list(positions[start:start + 500])
                marks = ", ".join("?" * len(chunk))
                found += [as_of.notification_from_row(r) for r in sql.all(
                    self._select_events.format(marks=marks), *chunk)]
        return sorted(found, key=lambda n: n.id)

    def tracking_table(self) -> str:
        return "tracking"


class SQLiteReadModel(ReadModel, SQLiteTrackingRecorder):
    events_table, position_column = "stored_events", "rowid"
    _select_events = ("SELECT rowid AS id, originator_id, originator_version, topic, state "
                      "FROM stored_events WHERE rowid IN ({marks})")

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *_all_ddl()]


class PostgresReadModel(ReadModel, PostgresTrackingRecorder):
    postgres = True
    events_table, position_column = "ledger_events", "notification_id"
    _select_events = ("SELECT notification_id AS id, originator_id, originator_version, "
                      "topic, state FROM ledger_events WHERE notification_id IN ({marks})")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(SQL(s) for s in _all_ddl())  # type: ignore[arg-type]

    def tracking_table(self) -> str:
        return f"{self.datastore.schema}.{self.tracking_table_name}"

"""Views applied inside the event store's own insert transaction.

A command used to cost two transactions: the events' insert, then the catch-up that
applies them to the views with the tracking position. Here the application's recorder
applies its new events to every view, and records the position, in the insert's own
transaction, so a command commits once and its views are up to date when it returns.

This is only done when the views stand exactly where the new events begin: the insert
holds the events table's write lock (PostgreSQL's EXCLUSIVE lock, SQLite's single
writer), so no other event can commit meanwhile, and "no committed event between the
tracked position and mine" means nothing is skipped. Otherwise (views behind after a
restart, another process's events not yet applied, a rebuild running) the insert records
only the events, and the catch-up runner applies them as before. A runner batch that
overlaps an inline one collides on the hash chain's positions and rolls back whole, so
an event is still applied exactly once.

A view that fails on a new event fails the command with nothing recorded: the events and
the view rows are one transaction. On PostgreSQL the library's insert catches any error
raised after its INSERT (so that psycopg's pipeline does not warn) and lets the
transaction commit before it raises it again: the command answered 500 with its events
and the view rows written before the failure committed, and no tracking position, so
every catch-up after it collided with those rows. Our recorder raises inside the
transaction instead. The events of a quarantined partner are held here as in the
catch-up (`projections.quarantine`), never applied past an event of theirs the views lack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry

from projections.hash_chain import GENESIS
from projections.read_model import ReadModel
from projections.recorded import Recorded
from projections.sql import Sql


class InlineViews:
    def __init__(self, read_model: ReadModel, mapper: Mapper[Any], *, events_table: str,
                 position_column: str) -> None:
        self.read_model = read_model
        self.mapper = mapper
        # Told (first position, last position, topics) once an insert whose events the
        # views took has committed: the processor's knowledge of what is settled
        # (service/runtime/processing.py), which lets a command skip its catch-up.
        self.on_committed: Callable[[int, int, list[str]], None] | None = None
        self._taken = threading.local()
        # One round trip: where the views stand, whether an event they lack lies before
        # the new ones, the hash chain's head link, and whether any partner is held.
        self._where = (
            f"SELECT t.n AS tracked, EXISTS (SELECT 1 FROM {events_table} "
            f"WHERE {position_column} > t.n AND {position_column} < ?) AS behind, "
            f"(SELECT link FROM v_chain ORDER BY position DESC LIMIT 1) AS chain_head, "
            f"EXISTS (SELECT 1 FROM s_quarantine) AS quarantined "
            f"FROM (SELECT COALESCE(MAX(notification_id), 0) AS n "
            f"FROM {read_model.tracking_table()} WHERE application_name = ?) AS t")

        # The same before the insert, under the table lock (PostgreSQL): every row then in
        # the table has committed and lies before the new ones, and none can join it
        # until the insert commits, so "an event past the tracked position" is "one the
        # views lack". Sent in the insert's pipeline, it costs no round trip of its own.
        self._where_before_insert = (
            f"SELECT t.n AS tracked, EXISTS (SELECT 1 FROM {events_table} "
            f"WHERE {position_column} > t.n) AS behind, "
            f"(SELECT link FROM v_chain ORDER BY position DESC LIMIT 1) AS chain_head, "
            f"EXISTS (SELECT 1 FROM s_quarantine) AS quarantined "
            f"FROM (SELECT COALESCE(MAX(notification_id), 0) AS n "
            f"FROM {read_model.tracking_table()} WHERE application_name = %s) AS t")

    def apply(self, cursor: Any, stored: Sequence[StoredEvent], ids: Sequence[int]) -> bool:
        """Applies the new events to the views in the cursor's transaction, when the views
        stand just before them; True when it did."""
        sql = Sql(cursor, postgres=self.read_model.postgres)
        return self._apply(sql, stored, ids,
                           sql.one(self._where, ids[0], self.read_model.upstream))

    def send_state_query(self, cursor: Any) -> None:
        """Sends the views' state query on `cursor`, inside the insert's pipeline, after
        the table lock and before the insert; `apply_with_state` reads its answer."""
        cursor.execute(self._where_before_insert, (self.read_model.upstream,))

    def apply_with_state(self, cursor: Any, state_cursor: Any, stored: Sequence[StoredEvent],
                         ids: Sequence[int]) -> bool:
        row = state_cursor.fetchone()
        sql = Sql(cursor, postgres=self.read_model.postgres)
        return self._apply(sql, stored, ids, dict(row) if row is not None else None)

    def taken(self) -> bool:
        """Whether the views took this thread's last insert (read once, after its commit)."""
        taken, self._taken.value = getattr(self._taken, "value", False), False
        return bool(taken)

    def committed(self, stored: Sequence[StoredEvent], ids: Sequence[int] | None) -> None:
        """After an insert's commit: tells `on_committed` when the views took its events."""
        if self.taken() and ids and self.on_committed is not None:
            self.on_committed(ids[0], ids[-1], [event.topic for event in stored])

    def _apply(self, sql: Sql, stored: Sequence[StoredEvent], ids: Sequence[int],
               state: dict[str, Any] | None) -> bool:
        self._taken.value = False
        if state is None or state["tracked"] >= ids[0] or state["behind"]:
            return False
        items = []
        for position, event in zip(ids, stored, strict=True):
            notification = Notification(
                id=position, originator_id=event.originator_id,
                originator_version=event.originator_version, topic=event.topic,
                state=event.state)
            items.append(Recorded(position, self.mapper.to_domain_event(notification),
                                  notification))
        applied = self.read_model.apply_in(sql, items,
                                           chain_head=state["chain_head"] or GENESIS,
                                           quarantined=bool(state["quarantined"]))
        # Events held for a quarantined partner are not settled: the catch-up reports them.
        self._taken.value = not applied.held
        return True


class InlineSQLiteRecorder(SQLiteApplicationRecorder):
    inline: InlineViews | None = None

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        if self.inline is not None:
            self.inline.taken()  # forget an earlier insert's that did not commit
        ids = super().insert_events(stored_events, **kwargs)
        if self.inline is not None:
            self.inline.committed(stored_events, ids)
        return ids

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if self.inline is not None and ids:
            self.inline.apply(c, stored_events, ids)
        return ids


class InlinePostgresRecorder(PostgresApplicationRecorder):
    inline: InlineViews | None = None

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        if self.inline is None or self.datastore.enable_db_functions or not stored_events:
            return super().insert_events(stored_events, **kwargs)
        self.inline.taken()  # forget an earlier insert's that did not commit
        ids = self._insert_or_roll_back(stored_events, **kwargs)
        self.inline.committed(stored_events, ids)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_or_roll_back(self, stored_events: Sequence[StoredEvent],
                             **kwargs: Any) -> Sequence[int] | None:
        """The library's pipelined insert, except that an error rolls the transaction back
        (see the module's docstring): raising `Rollback` inside it ends it with ROLLBACK,
        and the error is raised again once the pipeline is closed."""
        failure: Exception | None = None
        ids: Sequence[int] | None = None
        inline = self.inline
        assert inline is not None
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction():
                with conn.cursor() as curs:
                    self._insert_events(curs, stored_events, **kwargs)
                with conn.cursor() as curs, conn.cursor() as state:
                    try:
                        # Lock, views' state, insert: one round trip with the sync.
                        self._lock_table(curs)
                        self._notify_channel(curs)
                        inline.send_state_query(state)
                        PostgresAggregateRecorder._insert_stored_events(
                            self, curs, stored_events, **kwargs)
                        # Sync now, so a uniqueness violation raises IntegrityError here.
                        pipeline.sync()
                        ids = PostgresApplicationRecorder._fetch_ids_after_insert_events(
                            self, curs, stored_events, **kwargs)
                        if ids:
                            inline.apply_with_state(curs, state, stored_events, ids)
                    except Exception as error:  # raised again below, after the ROLLBACK
                        failure = error
                if failure is not None:
                    raise psycopg.Rollback
            if failure is not None:
                raise failure
        return ids

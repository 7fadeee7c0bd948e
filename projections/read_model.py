"""The read model: every view's tables plus one tracking row, in the events' own database.

All views apply each event in one transaction together with the tracking position, so
an event is applied exactly once across crashes and restarts, and the single tracking
row SQLite allows (see shared/EVENTSOURCING.md) serves every view. An event the views
cannot apply, and every later event of its partner, is held in quarantine instead
(`projections.quarantine`): chained and tracked like the others, kept out of the views.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, NamedTuple, Self, TypeVar, cast

from eventsourcing.persistence import IntegrityError, Notification, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed

from projections import as_of, event_rows, hash_chain, quarantine
from projections.quarantine import Held
from projections.rebuild import rebuild as rebuild_views
from projections.recorded import Entry, Recorded
from projections.sql import Sql
from projections.view import Tables, Views

T = TypeVar("T")
log = logging.getLogger(__name__)

# The read model's own tables, rebuilt with the views so that a rebuild and the quarantine
# agree on what is held: the chain and the checkpoints take every event the views take.
OWN: tuple[Tables, ...] = (hash_chain, as_of, quarantine)
# The service clock's row; `writing` takes SQLite's write lock with a statement on it.
CLOCK_DDL = "CREATE TABLE IF NOT EXISTS s_clock (id TEXT PRIMARY KEY, now TEXT NOT NULL)"


class Applied(NamedTuple):
    """What one application of entries did: events applied per view, and the events held
    in quarantine (those with an error are newly failed ones)."""

    views: dict[str, int]
    held: list[Held]

    @property
    def failed(self) -> list[Held]:
        return [h for h in self.held if h.error is not None]


class ReadModel(TrackingRecorder):
    """Applies events to the views; reads run in their own read-only transactions."""

    upstream = "ledger"
    postgres = False
    partition = 0  # this store's index in a partitioned deployment (set by bootstrap)
    idle_at: int | None = None  # where `nothing_to_do` last found the log idle
    # The host's wall clock, for operational stamps (quarantine rows); set by bootstrap so
    # that no projection reads a clock of its own.
    wall_clock: Callable[[], datetime]
    events_table: str
    position_column: str
    # The views this read model applies (registered in `service/runtime/bootstrap.py`).
    views: Views

    # The backend's own parts, given by the two classes at the end of this module. This
    # class precedes the library's recorders in their method order, so it declares them
    # under names of its own (a `_insert_tracking` here would hide the library's).
    _select_events: str

    @classmethod
    def over(cls, views: Views) -> type[Self]:
        """This backend's read model applying `views`. A subclass rather than an argument:
        the library's factory constructs the recorder, and creates its tables, from a class."""
        return cast(type[Self], type(cls.__name__, (cls,), {"views": views}))

    def _counts(self) -> dict[str, int]:
        """Events applied per view, and to the chain: none yet."""
        return {**{view.NAME: 0 for view in self.views.applied}, hash_chain.NAME: 0}

    def _all_ddl(self) -> list[str]:
        return [*(s for view in (*self.views.applied, *OWN) for s in view.DDL),
                *self.views.service_ddl, CLOCK_DDL]

    def _rebuilt_tables(self) -> list[str]:
        return [table for view in (*self.views.applied, *OWN) for table in view.TABLES]

    def rebuilt_ddl(self) -> list[str]:
        """The statements that create the rebuilt tables and their indexes, in order."""
        return [s for view in (*self.views.applied, *OWN) for s in view.DDL]

    @abstractmethod
    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def _reading_cursor(self) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def _track(self, cursor: Any, tracking: Tracking) -> None: ...

    @abstractmethod
    def close_datastore(self) -> None:
        """Closes the views' connections (the service's shutdown; tests that lose the store)."""

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        with self._reading_cursor() as cursor:
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
        idle = (row["views"] == row["head"] and row["pending"] is None
                and row["views"] - row["follower"] < lag)
        # Where the log ended when it was found idle (the caller's lock keeps it its own).
        self.idle_at = row["views"] if idle else None
        return bool(idle)

    def apply_batch(self, entries: Sequence[Entry]) -> Applied:
        """Applies (position, event) entries and records the last position, all or nothing;
        entries of quarantined partners, and any that did not decode, are held instead.

        A position recorded already raises the library's IntegrityError (another runner
        got there first) and the whole batch rolls back.
        """
        with self.writing() as sql:
            return self._apply(sql, entries)

    def apply_isolating(self, entries: Sequence[Entry]) -> Applied:
        """Like `apply_batch`, but an entry that cannot be applied is quarantined, and the
        others are applied: the batch is tried whole, then each entry alone in its own
        transaction. Raises IntegrityError only when another runner recorded these
        positions first."""
        return self._isolating(self.writing, entries, track=True)

    def _isolating(self, unit: Callable[[], AbstractContextManager[Sql]],
                   entries: Sequence[Entry], *, track: bool) -> Applied:
        try:
            with unit() as sql:
                return self._apply(sql, entries, track=track)
        except Exception as error:  # whatever the cause: find the entry, isolate it
            if track and self.position() >= entries[0].position:
                raise IntegrityError(f"position {entries[0].position} recorded by another "
                                     f"runner") from error
            log.warning("partition %s: a batch of %d events from position %d failed (%s); "
                        "applying them one by one", self.partition, len(entries),
                        entries[0].position, quarantine.describe(error))
        views = self._counts()
        held: list[Held] = []
        for entry in entries:
            outcome = self._alone(unit, entry, track=track)
            for name, count in outcome.views.items():
                views[name] += count
            held += outcome.held
        return Applied(views, held)

    def _alone(self, unit: Callable[[], AbstractContextManager[Sql]], entry: Entry, *,
               track: bool) -> Applied:
        """One entry in its own transaction; quarantined when it fails twice (a second
        try tells a passing hiccup of the database from an event that cannot apply)."""
        problem = ""
        for _ in range(2):
            try:
                with unit() as sql:
                    return self._apply(sql, [entry], track=track)
            except Exception as error:  # isolated below, and reported by the caller
                if track and self.position() >= entry.position:
                    raise IntegrityError(f"position {entry.position} recorded by another "
                                         f"runner") from error
                problem = quarantine.describe(error)
        with unit() as sql:
            return self._apply(sql, [quarantine.failed(sql, entry, problem)], track=track)

    def rebuild(self, batches: Iterable[Sequence[Entry]]) -> Applied:
        """Rebuilds every view from the log and swaps it in (projections/rebuild.py):
        readers see the old views until the new ones are complete."""
        return rebuild_views(self, batches)

    def isolating(self, unit: Callable[[], AbstractContextManager[Sql]],
                  entries: Sequence[Entry], *, track: bool) -> Applied:
        """`apply_isolating` in the given unit of work (the rebuild's scratch copy)."""
        return self._isolating(unit, entries, track=track)

    def track_in(self, sql: Sql, tracking: Tracking) -> None:
        """Records the views' position in `sql`'s transaction."""
        self._track(sql.cursor, tracking)

    def apply_in(self, sql: Sql, items: Sequence[Recorded], *, chain_head: str,
                 quarantined: bool) -> Applied:
        """Applies the items and records their position in the caller's transaction (the
        event store's own insert, see `projections.inline`), which read the chain's head
        and whether anything is in quarantine."""
        return self._apply(sql, items, chain_head=chain_head,
                           partners=None if quarantined else {})

    def _apply(self, sql: Sql, entries: Sequence[Entry], *, chain_head: str | None = None,
               partners: dict[str, int] | None = None, track: bool = True) -> Applied:
        items = quarantine.sort(sql, entries, partners=partners)
        views = self._apply_views(sql, items, chain_head=chain_head)
        held = [item for item in items if isinstance(item, Held)]
        if held:
            quarantine.record(sql, held, partition=self.partition, at=self.wall_clock())
        if items and track:
            self._track(sql.statement_cursor(), Tracking(self.upstream, items[-1].position))
        return Applied(views, held)

    def _apply_views(self, sql: Sql, items: Sequence[Recorded | Held], *,
                     chain_head: str | None = None) -> dict[str, int]:
        applied = {view.NAME: 0 for view in self.views.applied}
        try:
            for item in items:
                if isinstance(item, Held):
                    continue
                position, event, _ = item
                event_rows.begin(sql, position, event)  # rows handed between this event's views
                for view in self.views.applied:
                    if view.apply(sql, position, event):
                        applied[view.NAME] += 1
        finally:
            sql.event = None  # no memo outlives the loop (a rolled-back savepoint's included)
        # The chain and the position bookkeeping take held events too: they depend on the
        # stored bytes only, and the log stays verifiable across a quarantine.
        applied[hash_chain.NAME] = hash_chain.extend(
            sql, (item.notification for item in items), previous=chain_head)
        if items:
            as_of.count_and_checkpoint(sql, first=items[0].position - 1,
                                       last=items[-1].position)
        return applied

    # -- quarantine --------------------------------------------------------------------------

    def release(self, items: Sequence[Recorded], *, positions: Sequence[int] = ()) -> None:
        """Applies held events (one partner's, in log order) to the views and takes them,
        and any other `positions`, out of quarantine, in one transaction. Their chain links
        and tracking were recorded when they were held; each is counted for checkpoints at
        its own position (the partner's rows then are exactly its state at that
        position)."""
        with self.writing() as sql:
            for position, event, _ in items:
                event_rows.begin(sql, position, event)
                for view in self.views.applied:
                    view.apply(sql, position, event)
                as_of.count_and_checkpoint(sql, first=position - 1, last=position)
            quarantine.release(sql, [*positions, *(item.position for item in items)])

    def fail_again(self, position: int, error: str) -> None:
        with self.writing() as sql:
            quarantine.fail_again(sql, position, error, at=self.wall_clock())

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
        return [*super().construct_create_table_statements(), *self._all_ddl()]

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    def _reading_cursor(self) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=False)

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)

    def close_datastore(self) -> None:
        self.datastore.close()


class PostgresReadModel(ReadModel, PostgresTrackingRecorder):
    postgres = True
    events_table, position_column = "ledger_events", "notification_id"
    _select_events = ("SELECT notification_id AS id, originator_id, originator_version, "
                      "topic, state FROM ledger_events WHERE notification_id IN ({marks})")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in self._all_ddl())

    def _transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)

    @contextmanager
    def _reading_cursor(self) -> Iterator[Any]:
        # Autocommit: under READ COMMITTED each statement takes its own snapshot even
        # inside a transaction, so BEGIN and ROLLBACK would only add two round trips.
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            yield cursor

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)

    def close_datastore(self) -> None:
        self.datastore.close()

    def tracking_table(self) -> str:
        return f"{self.datastore.schema}.{self.tracking_table_name}"

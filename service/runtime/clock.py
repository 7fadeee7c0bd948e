"""The service clock: system time in production, a manual clock in test mode.

The manual clock only moves forward, through `set` (the scheduler's `advance`). Its time
lives in the database (`s_clock`), not in a process: every API worker, the projection
process and every command line tool over one database share it. A process keeps the
time it last read and reads it again with `refresh`, once per HTTP request (and once per
pass of `ledger project`), so after `POST /v1/admin/clock` answers, every worker answers
the new time; within one request the time stands still, as a command expects.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

import psycopg
from eventsourcing.persistence import ConnectionPoolClosedError, PersistenceError

from aggregates.errors import InvalidTransition
from projections.read_model import ReadModel
from projections.times import from_stored, stored

MANUAL_ROW = "manual"
# What a database that cannot be reached raises, through the library or the driver.
DATABASE_ERRORS = (PersistenceError, ConnectionPoolClosedError, psycopg.Error)


class Clock(Protocol):
    manual: bool

    def now(self) -> datetime: ...

    def refresh(self) -> None:
        """Takes up the time other processes may have moved the clock to."""
        ...


class SystemClock:
    manual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def refresh(self) -> None:
        return None


class ClockStore(Protocol):
    """Where a manual clock's time is kept, for every process to read."""

    def read(self) -> datetime | None: ...

    def advance(self, to: datetime) -> datetime:
        """Stores `to` unless a later time is stored already; returns the stored time."""
        ...


class DatabaseClockStore:
    """The manual clock's row in the read model's database: one primary-key read."""

    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model

    def read(self) -> datetime | None:
        with self.read_model.reading() as sql:
            saved = sql.scalar("SELECT now FROM s_clock WHERE id = ?", MANUAL_ROW)
        return from_stored(saved) if saved else None

    def advance(self, to: datetime) -> datetime:
        # The stored form is fixed-width UTC text, so text order is time order: the WHERE
        # keeps two processes moving the clock at once from moving it back.
        with self.read_model.writing() as sql:
            sql.run("INSERT INTO s_clock (id, now) VALUES (?, ?) ON CONFLICT (id) DO UPDATE "
                    "SET now = excluded.now WHERE s_clock.now < excluded.now",
                    MANUAL_ROW, stored(to))
            saved = sql.scalar("SELECT now FROM s_clock WHERE id = ?", MANUAL_ROW)
        return from_stored(saved)

    def start(self, default: datetime) -> datetime:
        """The stored time; on a new database, `default`, stored so that every process
        starting later begins from the same moment."""
        saved = self.read()
        if saved is not None:
            return saved
        with self.read_model.writing() as sql:
            sql.run("INSERT INTO s_clock (id, now) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                    MANUAL_ROW, stored(default))
            return from_stored(sql.scalar("SELECT now FROM s_clock WHERE id = ?", MANUAL_ROW))


class ManualClock:
    manual = True

    def __init__(self, start: datetime, *, store: ClockStore | None = None) -> None:
        self._now = start.astimezone(UTC)
        self._store = store
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def refresh(self) -> None:
        if self._store is None:
            return
        saved = self._store.read()
        with self._lock:
            if saved is not None and saved > self._now:
                self._now = saved

    def set(self, to: datetime) -> None:
        """Moves the clock to `to`; never backwards, from the time this or any other
        process set. One write: the store refuses to move back, and tells."""
        if to.tzinfo is None:
            to = to.replace(tzinfo=UTC)
        to = to.astimezone(UTC)
        with self._lock:
            if to < self._now:
                raise self._refusal(self._now)
            if self._store is not None:
                saved = self._store.advance(to)
                if saved > to:  # another process moved it further first
                    self._now = saved
                    raise self._refusal(saved)
            self._now = to

    @staticmethod
    def _refusal(standing: datetime) -> InvalidTransition:
        return InvalidTransition(
            f"the clock stands at {standing.isoformat()} and never moves back")

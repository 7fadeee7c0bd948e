"""Views as they stood at a past moment (`?as_of=<time>`) or log position
(`?as_of=position:<n>`).

Every view except the audit trail is partner-scoped, so an as-of read rebuilds only one
partner's views, into an in-memory SQLite replica with the same tables, and runs the same
read functions on it. To avoid replaying the partner's whole history, the read model
takes a checkpoint of the partner's rows every `CHECKPOINT_EVERY` of its events (in the
view transaction, so the checkpoint is exactly the state at its position); a replica
starts from the nearest checkpoint at or before the requested position and applies only
the partner's events after it. The audit trail needs no replica: its rows never change,
so it is read live up to the position.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification

from aggregates.bounds import MAX_POSITION, year_problem
from aggregates.errors import InvalidInput
from projections import aggregate_states, event_rows, line_day_counts, lines, sub_accounts
from projections.sql import Sql
from projections.times import from_stored, stored
from projections.view import View

# The views a replica holds; all of their tables carry a partner_id column.
REPLICA_VIEWS: tuple[View, ...] = (sub_accounts, lines, line_day_counts, aggregate_states)
CHECKPOINTED_TABLES = tuple(t for v in REPLICA_VIEWS for t in v.TABLES if t != "v_placements")
CHECKPOINT_EVERY = 5000
DDL = (
    "CREATE TABLE IF NOT EXISTS v_checkpoints (partner_id TEXT NOT NULL, "
    "position BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (partner_id, position))",
    "CREATE TABLE IF NOT EXISTS v_checkpoint_due (partner_id TEXT PRIMARY KEY, "
    "events BIGINT NOT NULL)",
)
TABLES = ("v_checkpoints", "v_checkpoint_due")
T = TypeVar("T")


class AsOfError(InvalidInput):
    """An `as_of` value that is neither an ISO time nor `position:<n>`."""


@dataclass(frozen=True)
class Moment:
    """What an `as_of` value names: the log position (the last event at or before it,
    clamped to the end of the log), the time the reads take as `now`, and, when a partner
    was named, that partner's last event at or before the position: the replica's key."""

    position: int
    at: datetime
    partner_position: int | None = None


def parse(value: str) -> tuple[str, int | datetime]:
    if value.startswith("position:"):
        try:
            position = int(value.removeprefix("position:"))
        except ValueError:
            raise AsOfError("as_of position must be position:<integer>") from None
        if position < 0 or position > MAX_POSITION:
            raise AsOfError(f"as_of position must be from 0 to {MAX_POSITION}")
        return "position", position
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AsOfError("as_of must be an ISO-8601 time or position:<n>") from None
    out_of_range = year_problem(at, "as_of")
    if out_of_range is not None:  # before converting: year 1 or 9999 at an offset overflows
        raise AsOfError(out_of_range)
    return "time", at if at.tzinfo else at.replace(tzinfo=UTC)


def resolve(sql: Sql, value: str, *, now: datetime, partner_id: str | None = None) -> Moment:
    """The log position and time an `as_of` value names, in one round trip.

    A time names the last event at or before it (found backwards along the time index:
    events are recorded in time order, so the latest time is the latest position); a
    position names the last event at or before it, so any position past the end of the
    log names the end. With `partner_id`, also that partner's last event at or before the
    position: a partner's views change only with its own events, so every `as_of` between
    two of its events reads the same replica."""
    kind, target = parse(value)
    if isinstance(target, datetime) and target > now:
        # A view "as it stood then" of a moment still to come would invent its charges.
        raise AsOfError(f"as_of {value} is after the service's current time "
                        f"({now.isoformat()}): no view stood then yet")
    if kind == "position":
        assert isinstance(target, int)
        # Past BIGINT's range the driver would refuse the number; it is past the end anyway.
        anchor = ("SELECT position, occurred_at FROM v_audit WHERE position <= ? "
                  "ORDER BY position DESC LIMIT 1")
        bound: Any = min(target, MAX_POSITION)
    else:
        assert isinstance(target, datetime)
        anchor = ("SELECT position, occurred_at FROM v_audit WHERE occurred_at <= ? "
                  "ORDER BY occurred_at DESC, position DESC LIMIT 1")
        bound = stored(target)
    partner = ("(SELECT p.position FROM v_audit p WHERE p.partner_id = ? AND "
               "p.position <= g.position ORDER BY p.position DESC LIMIT 1)"
               if partner_id is not None else "NULL")
    params = [partner_id] if partner_id is not None else []
    row = sql.one(f"SELECT g.position, g.occurred_at, {partner} AS partner_position "
                  f"FROM ({anchor}) AS g", *params, bound)
    position = int(row["position"]) if row else 0
    mine = int(row["partner_position"] or 0) if row else 0
    if kind == "time":
        assert isinstance(target, datetime)
        at = target
    else:
        at = min(from_stored(row["occurred_at"]), now) if row else now
    return Moment(position=position, at=at,
                  partner_position=mine if partner_id is not None else None)


# -- checkpoints (written inside the read model's view transaction) -----------------------

def count_and_checkpoint(sql: Sql, *, first: int, last: int) -> None:
    """Counts each partner's events in (first, last] and checkpoints those that are due.
    One statement counts and adds up (a round trip saved on every command)."""
    due = sql.all("INSERT INTO v_checkpoint_due (partner_id, events) "
                  "SELECT partner_id, COUNT(*) FROM v_audit WHERE position > ? AND position <= ? "
                  "AND partner_id IS NOT NULL GROUP BY partner_id "
                  "ON CONFLICT (partner_id) DO UPDATE SET "
                  "events = v_checkpoint_due.events + excluded.events "
                  "RETURNING partner_id, events", first, last)
    for row in due:
        if int(row["events"]) >= CHECKPOINT_EVERY:
            checkpoint(sql, partner_id=row["partner_id"], position=last)


def checkpoint(sql: Sql, *, partner_id: str, position: int) -> None:
    data = {table: sql.all(f"SELECT * FROM {table} WHERE partner_id = ?", partner_id)
            for table in CHECKPOINTED_TABLES}
    packed = zlib.compress(json.dumps(data, separators=(",", ":")).encode()).hex()
    sql.run("INSERT INTO v_checkpoints (partner_id, position, data) VALUES (?, ?, ?) "
            "ON CONFLICT (partner_id, position) DO NOTHING", partner_id, position, packed)
    sql.run("UPDATE v_checkpoint_due SET events = 0 WHERE partner_id = ?", partner_id)


# -- replicas -----------------------------------------------------------------------------

class Replica:
    """One partner's views at one log position, in an in-memory SQLite database."""

    def __init__(self, position: int) -> None:
        self.position = position
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        for view in REPLICA_VIEWS:
            for statement in view.DDL:
                self._conn.execute(statement)

    def load(self, data: dict[str, list[dict[str, Any]]]) -> None:
        for table, rows in data.items():
            if rows:
                columns = list(rows[0])
                self._conn.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                    f"({', '.join('?' * len(columns))})",
                    [tuple(r[c] for c in columns) for r in rows])

    def apply(self, events: list[tuple[int, Any]]) -> None:
        sql = Sql(self._conn.cursor(), postgres=False)
        for position, event in events:
            event_rows.begin(sql, position, event)
            for view in REPLICA_VIEWS:
                view.apply(sql, position, event)

    def read(self, query: Callable[..., T], /, **kwargs: Any) -> T:
        with self._lock:
            return query(Sql(self._conn.cursor(), postgres=False), **kwargs)

    def size_bytes(self) -> int:
        """The database's pages: what the cache counts against its memory cap (SQLite's
        own overhead per connection, a few hundred KiB at most, comes on top)."""
        with self._lock:
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)


EventFetcher = Callable[[list[int]], list[tuple[int, Any]]]


def build_replica(sql: Sql, *, partner_id: str, position: int,
                  fetch: EventFetcher) -> Replica:
    """The partner's views at `position`: its nearest checkpoint at or before it, plus its
    events after the checkpoint (at most `CHECKPOINT_EVERY` of them)."""
    replica = Replica(position)
    row = sql.one("SELECT position, data FROM v_checkpoints WHERE partner_id = ? AND "
                  "position <= ? ORDER BY position DESC LIMIT 1", partner_id, position)
    start = 0
    if row:
        replica.load(json.loads(zlib.decompress(bytes.fromhex(row["data"]))))
        start = int(row["position"])
    positions = [r["position"] for r in sql.all(
        "SELECT position FROM v_audit WHERE partner_id = ? AND position > ? AND position <= ? "
        "ORDER BY position", partner_id, start, position)]
    replica.apply(fetch(positions))
    return replica


def notification_from_row(row: dict[str, Any]) -> Notification:
    return Notification(id=int(row["id"]), originator_id=UUID(str(row["originator_id"])),
                        originator_version=int(row["originator_version"]),
                        topic=row["topic"], state=bytes(row["state"]))

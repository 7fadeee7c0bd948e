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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification

from aggregates.bounds import MAX_POSITION, year_problem
from aggregates.errors import InvalidInput
from projections import aggregate_states, line_day_counts, lines, sub_accounts
from projections.sql import Sql
from projections.times import from_stored, stored

# The views a replica holds; all of their tables carry a partner_id column.
REPLICA_VIEWS = (sub_accounts, lines, line_day_counts, aggregate_states)
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
    position: int
    at: datetime


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


def resolve(sql: Sql, value: str, *, now: datetime) -> Moment:
    """The log position and time an `as_of` value names."""
    kind, target = parse(value)
    if kind == "position":
        assert isinstance(target, int)
        row = sql.one("SELECT position, occurred_at FROM v_audit WHERE position <= ? "
                      "ORDER BY position DESC LIMIT 1", target)
        at = from_stored(row["occurred_at"]) if row else now
        return Moment(position=target, at=min(at, now) if row else now)
    assert isinstance(target, datetime)
    position = sql.scalar("SELECT MAX(position) FROM v_audit WHERE occurred_at <= ?",
                          stored(target))
    return Moment(position=int(position or 0), at=target)


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

    def __init__(self, moment: Moment) -> None:
        self.moment = moment
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
            for view in REPLICA_VIEWS:
                view.apply(sql, position, event)

    def read(self, query: Callable[..., T], /, **kwargs: Any) -> T:
        with self._lock:
            return query(Sql(self._conn.cursor(), postgres=False), **kwargs)


EventFetcher = Callable[[list[int]], list[tuple[int, Any]]]


def build_replica(sql: Sql, *, partner_id: str, moment: Moment,
                  fetch: EventFetcher) -> Replica:
    replica = Replica(moment)
    row = sql.one("SELECT position, data FROM v_checkpoints WHERE partner_id = ? AND "
                  "position <= ? ORDER BY position DESC LIMIT 1", partner_id, moment.position)
    start = 0
    if row:
        replica.load(json.loads(zlib.decompress(bytes.fromhex(row["data"]))))
        start = int(row["position"])
    positions = [r["position"] for r in sql.all(
        "SELECT position FROM v_audit WHERE partner_id = ? AND position > ? AND position <= ? "
        "ORDER BY position", partner_id, start, moment.position)]
    replica.apply(fetch(positions))
    return replica


class ReplicaCache:
    """The few replicas last asked for: a portal page reads several views as of one time."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, int], Replica] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, partner_id: str, moment: Moment,
            build: Callable[[], Replica]) -> Replica:
        key = (partner_id, moment.position)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                replica = self._items[key]
                if replica.moment.at == moment.at:
                    return replica
        replica = build()
        with self._lock:
            self._items[key] = replica
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return replica


def notification_from_row(row: dict[str, Any]) -> Notification:
    return Notification(id=int(row["id"]), originator_id=UUID(str(row["originator_id"])),
                        originator_version=int(row["originator_version"]),
                        topic=row["topic"], state=bytes(row["state"]))

"""Per-day line counts per bucket, kept as deltas so any period's counts are a prefix sum.

SPEC's rule: a line counts on every UTC day it existed during any part of, and the day
belongs to its bucket at the end of the day (or at deletion). So a placement at time t
moves the line's whole day(t) to the new bucket (−1 old, +1 new on day(t)), and a
deletion stops it counting from the next day (−1 on day(t)+1). Several changes in one
day net out to the last bucket. The counts for day d and bucket b are the sum of the
deltas on or before d; days after today extend today's lines to the period's end, which
is what the upcoming invoice shows.

`v_placements` keeps each line's placement history with log positions, for the charge
explanation and for re-deriving invoices.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from aggregates.line import Line
from aggregates.line_days import Placement
from projections.sql import Sql
from projections.times import from_stored, stored

NAME = "line_day_counts"
TABLES = ("v_day_deltas", "v_line_buckets", "v_placements")
UNASSIGNED = ""
DDL = (
    "CREATE TABLE IF NOT EXISTS v_day_deltas (partner_id TEXT NOT NULL, day TEXT NOT NULL, "
    "bucket TEXT NOT NULL, delta BIGINT NOT NULL, PRIMARY KEY (partner_id, day, bucket))",
    "CREATE TABLE IF NOT EXISTS v_line_buckets (line_id TEXT PRIMARY KEY, "
    "partner_id TEXT NOT NULL, bucket TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS v_placements (position BIGINT PRIMARY KEY, "
    "partner_id TEXT NOT NULL, line_id TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, "
    "bucket TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_placements_by_partner ON v_placements (partner_id, at)",
)


def _add(sql: Sql, partner_id: str, day: date, bucket: str, delta: int) -> None:
    sql.run(
        "INSERT INTO v_day_deltas (partner_id, day, bucket, delta) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (partner_id, day, bucket) DO UPDATE SET delta = v_day_deltas.delta + ?",
        partner_id, day.isoformat(), bucket, delta, delta,
    )


def _bucket_of(event: Any) -> str | None:
    """The bucket a placement event puts the line in; None if it is no placement."""
    match event:
        case Line.Provisioned():
            return str(event.sub_account_id) if event.sub_account_id else UNASSIGNED
        case Line.Assigned():
            return str(event.sub_account_id)
        case Line.Unassigned():
            return UNASSIGNED
        case Line.MoveApproved() | Line.Moved():
            return str(event.to_sub_account_id)
    return None


def apply(sql: Sql, position: int, event: Any) -> bool:
    if not isinstance(event, Line.Event):
        return False
    day = event.timestamp.date()
    line_id = str(event.originator_id)
    if isinstance(event, Line.Provisioned):
        at = stored(event.timestamp)
        partner_id, bucket = str(event.partner_id), _bucket_of(event)
        assert bucket is not None
        sql.run("INSERT INTO v_line_buckets (line_id, partner_id, bucket) VALUES (?, ?, ?)",
                line_id, partner_id, bucket)
        _add(sql, partner_id, day, bucket, 1)
        sql.run("INSERT INTO v_placements (position, partner_id, line_id, at, kind, bucket) "
                "VALUES (?, ?, ?, ?, 'placed', ?)", position, partner_id, line_id, at, bucket)
        return True
    new_bucket = _bucket_of(event)
    deleted = isinstance(event, Line.DeleteApproved)
    if new_bucket is None and not deleted:
        return False  # most line events (pauses, flags) place nothing
    at = stored(event.timestamp)
    row = sql.one("SELECT partner_id, bucket FROM v_line_buckets WHERE line_id = ?", line_id)
    if row is None:
        return False
    partner_id, old_bucket = row["partner_id"], row["bucket"]
    if deleted:
        _add(sql, partner_id, day + timedelta(days=1), old_bucket, -1)
        sql.run("INSERT INTO v_placements (position, partner_id, line_id, at, kind, bucket) "
                "VALUES (?, ?, ?, ?, 'deleted', ?)", position, partner_id, line_id, at,
                old_bucket)
        return True
    assert new_bucket is not None
    _add(sql, partner_id, day, old_bucket, -1)
    _add(sql, partner_id, day, new_bucket, 1)
    sql.run("UPDATE v_line_buckets SET bucket = ? WHERE line_id = ?", new_bucket, line_id)
    sql.run("INSERT INTO v_placements (position, partner_id, line_id, at, kind, bucket) "
            "VALUES (?, ?, ?, ?, 'placed', ?)", position, partner_id, line_id, at, new_bucket)
    return True


def _key(bucket: str) -> str | None:
    return bucket or None


def day_counts(sql: Sql, *, partner_id: str, start: date,
               end: date) -> dict[date, Counter[str | None]]:
    """Lines counted per bucket on each day of [start, end); the None bucket is the pool."""
    running: Counter[str | None] = Counter()
    for row in sql.all("SELECT bucket, SUM(delta) AS n FROM v_day_deltas WHERE partner_id = ? "
                       "AND day < ? GROUP BY bucket", partner_id, start.isoformat()):
        running[_key(row["bucket"])] += int(row["n"])
    changes: dict[str, list[tuple[str, int]]] = {}
    for row in sql.all("SELECT day, bucket, delta FROM v_day_deltas WHERE partner_id = ? "
                       "AND day >= ? AND day < ?", partner_id, start.isoformat(),
                       end.isoformat()):
        changes.setdefault(row["day"], []).append((row["bucket"], int(row["delta"])))
    counts: dict[date, Counter[str | None]] = {}
    day = start
    while day < end:
        for bucket, delta in changes.get(day.isoformat(), ()):
            running[_key(bucket)] += delta
        counts[day] = Counter({b: n for b, n in running.items() if n > 0})
        day += timedelta(days=1)
    return counts


def placements(sql: Sql, *, partner_id: str,
               until: datetime) -> dict[str, tuple[list[tuple[int, Placement]], datetime | None]]:
    """Each line's placements (with log positions) and deletion time, up to `until`."""
    lines: dict[str, tuple[list[tuple[int, Placement]], datetime | None]] = {}
    for row in sql.all("SELECT position, line_id, at, kind, bucket FROM v_placements "
                       "WHERE partner_id = ? AND at < ? ORDER BY position", partner_id,
                       stored(until)):
        history, deleted_at = lines.get(row["line_id"], ([], None))
        at = from_stored(row["at"])
        if row["kind"] == "deleted":
            deleted_at = at
        else:
            history.append((row["position"], Placement(at=at, bucket=_key(row["bucket"]))))
        lines[row["line_id"]] = (history, deleted_at)
    return lines

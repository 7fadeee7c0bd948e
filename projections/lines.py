"""Lines views: the filterable line list, per-status counts (overview) and the Available pool."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aggregates.line import ACTIVE, AVAILABLE, FLAGGED, LIVE_STATUSES, Line
from projections import event_rows
from projections.event_rows import LINE_COLUMNS, UNKNOWN
from projections.events import uuid_text
from projections.paging import keyset
from projections.sql import Sql
from projections.times import api_time, from_stored

NAME = "lines"
TABLES = ("v_lines", "v_line_counts")
DDL = (
    "CREATE TABLE IF NOT EXISTS v_lines (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, phone_number TEXT NOT NULL, status TEXT NOT NULL, "
    "sending TEXT NOT NULL, sub_account_id TEXT, flag_reason TEXT, "
    "requested_sub_account_id TEXT, status_before_request TEXT, created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, available_since TEXT, flagged_at TEXT)",
    "CREATE INDEX IF NOT EXISTS v_lines_by_partner ON v_lines (partner_id, seq)",
    "CREATE INDEX IF NOT EXISTS v_lines_by_status ON v_lines (partner_id, status, seq)",
    "CREATE INDEX IF NOT EXISTS v_lines_by_sub ON v_lines (partner_id, sub_account_id, seq)",
    "CREATE TABLE IF NOT EXISTS v_line_counts (partner_id TEXT NOT NULL, "
    "bucket TEXT NOT NULL, status TEXT NOT NULL, n BIGINT NOT NULL, "
    "PRIMARY KEY (partner_id, bucket, status))",
)

_COLUMNS = ("status", "sending", "sub_account_id", "flag_reason", "requested_sub_account_id",
            "status_before_request", "available_since", "flagged_at")
_INSERT = ("INSERT INTO v_lines (" + ", ".join(LINE_COLUMNS) + ") VALUES ("
           + ", ".join("?" * len(LINE_COLUMNS)) + ")")
_UPDATES: dict[tuple[str, ...], str] = {}  # statement per set of changed columns


def _update(changed: list[str]) -> str:
    statement = _UPDATES[tuple(changed)] = (
        "UPDATE v_lines SET " + "".join(f"{c} = ?, " for c in changed) + "updated_at = ? "
        "WHERE id = ?")
    return statement


def _end_request(row: dict[str, Any]) -> None:
    row["status"] = row["status_before_request"]
    row["status_before_request"] = None
    row["requested_sub_account_id"] = None


def _change(row: dict[str, Any], event: Any, at: str) -> None:
    match event:
        case Line.Assigned():
            row.update(status=ACTIVE, sub_account_id=str(event.sub_account_id),
                       available_since=None)
        case Line.Unassigned():
            row.update(status=AVAILABLE, sub_account_id=None, available_since=at)
        case Line.Flagged():
            row.update(status=FLAGGED, flag_reason=event.reason, flagged_at=at)
        case Line.Unflagged():
            row.update(status=ACTIVE, flag_reason=None, flagged_at=None)
        case Line.SendingPaused():
            row["sending"] = "paused"
        case Line.SendingResumed():
            row["sending"] = "enabled"
        case Line.MoveRequested():
            row.update(status_before_request=row["status"], status="move_requested",
                       requested_sub_account_id=str(event.sub_account_id))
        case Line.MoveApproved():
            row.update(status=ACTIVE, sub_account_id=str(event.to_sub_account_id),
                       requested_sub_account_id=None, status_before_request=None)
        case Line.Moved():
            row["sub_account_id"] = str(event.to_sub_account_id)
            if row["requested_sub_account_id"] == row["sub_account_id"]:
                _end_request(row)
        case Line.DeleteRequested():
            row.update(status_before_request=row["status"], status="delete_requested")
        case Line.DeleteApproved():
            row.update(status="deleted", status_before_request=None)
        case (Line.MoveRejected() | Line.MoveCancelled() | Line.DeleteRejected()
              | Line.DeleteCancelled()):
            _end_request(row)


def _count(sql: Sql, partner_id: str, bucket: str | None, status: str, delta: int) -> None:
    sql.run(
        "INSERT INTO v_line_counts (partner_id, bucket, status, n) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (partner_id, bucket, status) DO UPDATE SET n = v_line_counts.n + ?",
        partner_id, bucket or "", status, delta, delta,
    )


def apply(sql: Sql, position: int, event: Any) -> bool:
    if not isinstance(event, Line.Event):
        return False
    rows = event_rows.of(sql, position)
    at, line_id = event_rows.stamped(rows, event), event_rows.entity_id(rows, event)
    if isinstance(event, Line.Provisioned):
        partner_id, sub = str(event.partner_id), uuid_text(event.sub_account_id)
        status = ACTIVE if sub else AVAILABLE
        new = dict(zip(LINE_COLUMNS, (
            line_id, partner_id, position, event.phone_number, status, "enabled", sub, None,
            None, None, at, at, None if sub else at, None), strict=True))
        sql.run(_INSERT, *new.values())
        _count(sql, partner_id, sub, status, 1)
        if rows is not None:
            rows.line = new  # the row as written, for timers and public events
        return True
    if rows is not None and rows.line is not UNKNOWN:
        row = rows.line  # the audit view read it with the event's partner
    else:
        row = sql.one("SELECT * FROM v_lines WHERE id = ?", line_id)
    if row is None:
        if rows is not None:
            rows.line = None
        return False
    before = (row["sub_account_id"], row["status"])
    was = {c: row[c] for c in _COLUMNS}
    _change(row, event, at)
    row["updated_at"] = at
    # Only the columns the event changed: an indexed column (status, sub-account) left
    # alone keeps its index entries (most events only pause, resume or flag).
    changed = [c for c in _COLUMNS if row[c] != was[c]]
    sql.run(_UPDATES.get(tuple(changed)) or _update(changed), *(row[c] for c in changed),
            at, line_id)
    if rows is not None:
        rows.line = row
    after = (row["sub_account_id"], row["status"])
    if before != after:
        _count(sql, row["partner_id"], before[0], before[1], -1)
        _count(sql, row["partner_id"], after[0], after[1], 1)
    return True


def line_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "phone_number": row["phone_number"],
        "status": row["status"],
        "sending": row["sending"],
        "sub_account_id": row["sub_account_id"],
        "flag_reason": row["flag_reason"],
        "requested_sub_account_id": row["requested_sub_account_id"],
        "created_at": api_time(row["created_at"]),
        "updated_at": api_time(row["updated_at"]),
    }


def get_line(sql: Sql, *, partner_id: str, line_id: str) -> dict[str, Any] | None:
    row = sql.one("SELECT * FROM v_lines WHERE id = ? AND partner_id = ?", line_id, partner_id)
    return line_json(row) if row else None


def list_lines(sql: Sql, *, partner_id: str, status: str | None, sub_account_id: str | None,
               after_seq: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A page of lines in provisioning order; returns the rows and the last seq if more follow."""
    where, params = ["partner_id = ?", "seq > ?"], [partner_id, after_seq]
    if status:
        where.append("status = ?")
        params.append(status)
    if sub_account_id:
        where.append("sub_account_id = ?")
        params.append(sub_account_id)
    return keyset(sql, f"SELECT * FROM v_lines WHERE {' AND '.join(where)} ORDER BY seq",
                  *params, limit=limit, key="seq", item=line_json)


def _zero_counts() -> dict[str, int]:
    return {status: 0 for status in LIVE_STATUSES}


def overview(sql: Sql, *, partner_id: str) -> dict[str, Any]:
    counts = _zero_counts()
    by_bucket: dict[str, dict[str, int]] = {}
    for row in sql.all(
        "SELECT bucket, status, n FROM v_line_counts WHERE partner_id = ? AND n <> 0",
        partner_id,
    ):
        if row["status"] not in counts:
            continue
        counts[row["status"]] += row["n"]
        by_bucket.setdefault(row["bucket"], _zero_counts())[row["status"]] += row["n"]
    subs = sql.all(
        "SELECT id, name FROM v_sub_accounts WHERE partner_id = ? "
        "AND status NOT IN ('merged', 'deleted') ORDER BY seq",
        partner_id,
    )
    return {
        "counts": counts,
        "by_sub_account": [
            {"sub_account_id": s["id"], "name": s["name"],
             "counts": by_bucket.get(s["id"], _zero_counts())}
            for s in subs
        ],
    }


def available_pool(sql: Sql, *, partner_id: str, now: datetime, after_seq: int,
                   limit: int) -> tuple[list[dict[str, Any]], int | None]:
    def idle(row: dict[str, Any]) -> dict[str, Any]:
        since = from_stored(row["available_since"])
        return {**line_json(row), "available_since": api_time(since),
                "days_idle": max(0, (now - since).days)}

    return keyset(sql, "SELECT * FROM v_lines WHERE partner_id = ? AND status = 'available' "
                  "AND seq > ? ORDER BY seq", partner_id, after_seq, limit=limit, key="seq",
                  item=idle)



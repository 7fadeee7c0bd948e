"""Alerts view: each partner's alerts, open or resolved, from `PartnerAlerts` events; and
the reads of other views that the alerts job checks its conditions against.

Rows remember the log positions that raised and resolved them, so the list as of a past
position is a filter, not a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregates.alerts import JOB_FAILED, OPEN, RESOLVED, PartnerAlerts
from aggregates.invoice import PAST_DUE
from projections import aggregate_states
from projections.paging import keyset
from projections.sql import Sql
from projections.times import api_time, from_stored, stored

NAME = "alerts"
TABLES = ("v_alerts",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_alerts (partner_id TEXT NOT NULL, alert_key TEXT NOT NULL, "
    "kind TEXT NOT NULL, subject_id TEXT NOT NULL, message TEXT NOT NULL, "
    "data TEXT NOT NULL, status TEXT NOT NULL, raised_at TEXT NOT NULL, "
    "raised_position BIGINT NOT NULL, resolved_at TEXT, resolved_position BIGINT, "
    "resolution TEXT, PRIMARY KEY (partner_id, alert_key))",
    "CREATE INDEX IF NOT EXISTS v_alerts_by_partner ON v_alerts (partner_id, raised_position)",
)
STATUSES = (OPEN, RESOLVED, "all")


def apply(sql: Sql, position: int, event: Any) -> bool:
    if isinstance(event, PartnerAlerts.AlertRaised):
        sql.run(
            "INSERT INTO v_alerts (partner_id, alert_key, kind, subject_id, message, data, "
            "status, raised_at, raised_position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            str(event.partner_id), event.key, event.kind, event.subject_id, event.message,
            json.dumps(event.data, sort_keys=True), OPEN, stored(event.timestamp), position)
        return True
    if isinstance(event, PartnerAlerts.AlertResolved):
        sql.run("UPDATE v_alerts SET status = ?, resolved_at = ?, resolved_position = ?, "
                "resolution = ? WHERE partner_id = ? AND alert_key = ?", RESOLVED,
                stored(event.timestamp), position, event.reason, str(event.partner_id), event.key)
        return True
    return False


def _alert_json(row: dict[str, Any], *, resolved: bool) -> dict[str, Any]:
    return {
        "key": row["alert_key"],
        "kind": row["kind"],
        "subject_id": row["subject_id"],
        "message": row["message"],
        "data": json.loads(row["data"]),
        "status": RESOLVED if resolved else OPEN,
        "raised_at": api_time(row["raised_at"]),
        "resolved_at": api_time(row["resolved_at"]) if resolved else None,
        "resolution": row["resolution"] if resolved else None,
        "position": row["raised_position"],
    }


def list_alerts(sql: Sql, *, partner_id: str, status: str = OPEN, as_of: int | None = None,
                after_position: int = 0,
                limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """A page of alerts in the order they were raised; `status` open, resolved or all;
    as they stood at log position `as_of` (None: now)."""
    where, params = ["partner_id = ?", "raised_position > ?"], [partner_id, after_position]
    resolved, marks = "resolved_position IS NOT NULL", []
    if as_of is not None:
        where.append("raised_position <= ?")
        params.append(as_of)
        resolved, marks = "resolved_position IS NOT NULL AND resolved_position <= ?", [as_of]
    if status == OPEN:
        where.append(f"NOT ({resolved})")
        params.extend(marks)
    elif status == RESOLVED:
        where.append(f"({resolved})")
        params.extend(marks)
    return keyset(sql, f"SELECT *, CASE WHEN {resolved} THEN 1 ELSE 0 END AS is_resolved "
                  f"FROM v_alerts WHERE {' AND '.join(where)} ORDER BY raised_position",
                  *marks, *params, limit=limit, key="raised_position",
                  item=lambda r: _alert_json(r, resolved=bool(r["is_resolved"])))


def partners_with_open_job_failure(sql: Sql, *, job: str) -> list[str]:
    """The partners whose `job_failed` alert for `job` is open."""
    return [r["partner_id"] for r in sql.all(
        "SELECT DISTINCT partner_id FROM v_alerts WHERE kind = ? AND status = ? "
        "AND subject_id = ?", JOB_FAILED, OPEN, job)]


# -- the conditions the alerts job checks --------------------------------------------------


@dataclass(frozen=True)
class LineFact:
    line_id: str
    phone_number: str
    since: datetime
    reason: str | None = None


def flagged_lines(sql: Sql, *, partner_id: str) -> list[LineFact]:
    return [LineFact(r["id"], r["phone_number"], from_stored(r["flagged_at"]), r["flag_reason"])
            for r in sql.all("SELECT id, phone_number, flagged_at, flag_reason FROM v_lines "
                             "WHERE partner_id = ? AND status = 'flagged' AND flagged_at IS "
                             "NOT NULL ORDER BY seq", partner_id)]


def idle_lines(sql: Sql, *, partner_id: str) -> list[LineFact]:
    return [LineFact(r["id"], r["phone_number"], from_stored(r["available_since"]))
            for r in sql.all("SELECT id, phone_number, available_since FROM v_lines "
                             "WHERE partner_id = ? AND status = 'available' AND "
                             "available_since IS NOT NULL ORDER BY seq", partner_id)]


def past_due_invoices(sql: Sql, *, partner_id: str) -> list[Any]:
    return aggregate_states.invoices(sql, partner_id=partner_id, status=PAST_DUE)

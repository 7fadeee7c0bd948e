"""Sub-accounts view: status, line count and naming hint of each of a partner's sub-accounts."""

from __future__ import annotations

from typing import Any

from aggregates.sub_account import SubAccount, naming_hint
from projections.paging import keyset
from projections.sql import Sql
from projections.times import api_time, stored

NAME = "sub_accounts"
TABLES = ("v_sub_accounts",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_sub_accounts (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, line_count BIGINT NOT NULL, "
    "merged_into TEXT, requested_primary_id TEXT, created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_sub_accounts_by_partner ON v_sub_accounts (partner_id, seq)",
)

_STATUS_AFTER = {
    SubAccount.MergeRequested: "merge_requested",
    SubAccount.MergeApproved: "merged",
    SubAccount.MergeRejected: "active",
    SubAccount.MergeCancelled: "active",
    SubAccount.DeleteRequested: "delete_requested",
    SubAccount.DeleteApproved: "deleted",
    SubAccount.DeleteRejected: "active",
    SubAccount.DeleteCancelled: "active",
}


def apply(sql: Sql, position: int, event: Any) -> bool:
    if not isinstance(event, SubAccount.Event):
        return False
    at = stored(event.timestamp)
    sub_id = str(event.originator_id)
    if isinstance(event, SubAccount.Created):
        sql.run(
            "INSERT INTO v_sub_accounts (id, partner_id, seq, name, status, line_count, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 'active', 0, ?, ?)",
            sub_id, str(event.partner_id), position, event.name, at, at,
        )
        return True
    sets: dict[str, Any] = {}
    match event:
        case SubAccount.Renamed():
            sets["name"] = event.name
        case SubAccount.MergeRequested():
            sets["requested_primary_id"] = str(event.primary_id)
        case SubAccount.MergeApproved():
            sets.update(merged_into=str(event.primary_id), requested_primary_id=None,
                        line_count=0)
        case SubAccount.MergeRejected() | SubAccount.MergeCancelled():
            sets["requested_primary_id"] = None
    if type(event) in _STATUS_AFTER:
        sets["status"] = _STATUS_AFTER[type(event)]
    delta = {SubAccount.LineAttached: 1, SubAccount.LineDetached: -1}.get(type(event), 0)
    if isinstance(event, SubAccount.MergeAbsorbed):
        delta = len(event.line_ids)
    assignments = [f"{column} = ?" for column in sets]
    if delta:
        assignments.append(f"line_count = line_count + {int(delta)}")
    assignments.append("updated_at = ?")
    sql.run(
        f"UPDATE v_sub_accounts SET {', '.join(assignments)} WHERE id = ?",
        *sets.values(), at, sub_id,
    )
    return True


def sub_account_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "status": row["status"],
        "line_count": row["line_count"],
        "naming_hint": naming_hint(row["name"]),
        "merged_into": row["merged_into"],
        "requested_primary_id": row["requested_primary_id"],
        "created_at": api_time(row["created_at"]),
        "updated_at": api_time(row["updated_at"]),
    }


def get_sub_account(sql: Sql, *, partner_id: str, sub_account_id: str) -> dict[str, Any] | None:
    row = sql.one("SELECT * FROM v_sub_accounts WHERE id = ? AND partner_id = ?",
                  sub_account_id, partner_id)
    return sub_account_json(row) if row else None


def list_sub_accounts(sql: Sql, *, partner_id: str, status: str | None, after_seq: int,
                      limit: int) -> tuple[list[dict[str, Any]], int | None]:
    where, params = ["partner_id = ?", "seq > ?"], [partner_id, after_seq]
    if status:
        where.append("status = ?")
        params.append(status)
    return keyset(sql, f"SELECT * FROM v_sub_accounts WHERE {' AND '.join(where)} ORDER BY seq",
                  *params, limit=limit, key="seq", item=sub_account_json)

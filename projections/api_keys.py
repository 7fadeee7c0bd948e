"""API keys view: each key's role, name, when it was issued and revoked, and when it was
last used; never its token or hash.

`last_used_at` is not an event: authenticating is a read, and recording it as an event
would cost a write per request. `service/runtime/key_use.py` writes it to the service table
`s_key_use` at most once a minute per key and process; this view joins it in.
"""

from __future__ import annotations

from typing import Any

from aggregates.api_key import ApiKey
from projections.paging import keyset
from projections.sql import Sql
from projections.times import api_time, stored

NAME = "api_keys"
TABLES = ("v_api_keys",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_api_keys (id TEXT PRIMARY KEY, partner_id TEXT, "
    "seq BIGINT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL, "
    "revoked_at TEXT)",
    "CREATE INDEX IF NOT EXISTS v_api_keys_by_partner ON v_api_keys (partner_id, seq)",
)


def apply(sql: Sql, position: int, event: Any) -> bool:
    if isinstance(event, ApiKey.Issued):
        partner_id = str(event.partner_id) if event.partner_id is not None else None
        sql.run("INSERT INTO v_api_keys (id, partner_id, seq, role, name, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", str(event.originator_id), partner_id, position,
                event.role, event.name, stored(event.timestamp))
        return True
    if isinstance(event, ApiKey.Revoked):
        sql.run("UPDATE v_api_keys SET revoked_at = ? WHERE id = ?", stored(event.timestamp),
                str(event.originator_id))
        return True
    return False


def _key_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "role": row["role"],
        "name": row["name"],
        "created_at": api_time(row["created_at"]),
        "revoked_at": api_time(row["revoked_at"]),
        "last_used_at": api_time(row["last_used_at"]),
    }


def list_keys(sql: Sql, *, partner_id: str | None, after_seq: int = 0,
              limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a partner's keys (None: the platform's) in the order they were issued."""
    owner = "k.partner_id = ?" if partner_id is not None else "k.partner_id IS NULL"
    params = [partner_id] if partner_id is not None else []
    return keyset(
        sql, "SELECT k.*, u.last_used_at FROM v_api_keys k LEFT JOIN s_key_use u ON "
        f"u.key_id = k.id WHERE {owner} AND k.seq > ? ORDER BY k.seq", *params, after_seq,
        limit=limit, key="seq", item=_key_json)

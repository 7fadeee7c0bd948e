"""Pricing change requests view: what each partner asked for, in the order asked."""

from __future__ import annotations

import json
from typing import Any

from aggregates.pricing_change_request import OPEN, PricingChangeRequest
from projections.paging import keyset
from projections.sql import Sql
from projections.times import api_time, stored

NAME = "pricing_requests"
TABLES = ("v_pricing_requests",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_pricing_requests (id TEXT PRIMARY KEY, "
    "partner_id TEXT NOT NULL, seq BIGINT NOT NULL, pricing TEXT NOT NULL, "
    "reason TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_pricing_requests_by_partner ON v_pricing_requests "
    "(partner_id, seq)",
)


def apply(sql: Sql, position: int, event: Any) -> bool:
    if not isinstance(event, PricingChangeRequest.Requested):
        return False
    sql.run("INSERT INTO v_pricing_requests (id, partner_id, seq, pricing, reason, status, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", str(event.originator_id),
            str(event.partner_id), position, json.dumps(event.pricing, sort_keys=True),
            event.reason, OPEN, stored(event.timestamp))
    return True


def request_json(request: PricingChangeRequest) -> dict[str, Any]:
    """A request as a command answers it; the same shape as the list's items."""
    return {"id": str(request.id), "pricing": request.pricing, "reason": request.reason,
            "status": request.status, "created_at": api_time(request.created_on)}


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "pricing": json.loads(row["pricing"]), "reason": row["reason"],
            "status": row["status"], "created_at": api_time(row["created_at"])}


def list_requests(sql: Sql, *, partner_id: str, after_seq: int = 0,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    return keyset(sql, "SELECT * FROM v_pricing_requests WHERE partner_id = ? AND seq > ? "
                  "ORDER BY seq", partner_id, after_seq, limit=limit, key="seq", item=_row_json)

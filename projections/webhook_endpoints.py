"""Webhook endpoints view: each partner's endpoints as the API answers them (never a secret;
the secret is not in the events at all, see aggregates/webhook_endpoint.py).

`from_key` is the feed key (projections/public_events.py) of the endpoint's creation: an
endpoint is sent what happened after it was registered, never the partner's history.
"""

from __future__ import annotations

import json
from typing import Any

from aggregates.webhook_endpoint import DELETED, WebhookEndpoint
from projections.paging import keyset
from projections.public_events import FANOUT
from projections.sql import Sql
from projections.times import api_time, stored

NAME = "webhook_endpoints"
TABLES = ("v_webhook_endpoints",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_webhook_endpoints (id TEXT PRIMARY KEY, "
    "partner_id TEXT NOT NULL, seq BIGINT NOT NULL, url TEXT NOT NULL, "
    "event_types TEXT NOT NULL, description TEXT, status TEXT NOT NULL, "
    "disabled_reason TEXT, from_key BIGINT NOT NULL, created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_webhook_endpoints_by_partner ON v_webhook_endpoints "
    "(partner_id, seq)",
)


def apply(sql: Sql, position: int, event: Any) -> bool:
    if not isinstance(event, WebhookEndpoint.Event):
        return False
    at = stored(event.timestamp)
    wid = str(event.originator_id)
    if isinstance(event, WebhookEndpoint.Created):
        sql.run("INSERT INTO v_webhook_endpoints (id, partner_id, seq, url, event_types, "
                "description, status, disabled_reason, from_key, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'enabled', NULL, ?, ?, ?)", wid,
                str(event.partner_id), position, event.url, json.dumps(event.event_types),
                event.description, (position + 1) * FANOUT - 1, at, at)
    elif isinstance(event, WebhookEndpoint.Changed):
        sql.run("UPDATE v_webhook_endpoints SET url = ?, event_types = ?, description = ?, "
                "updated_at = ? WHERE id = ?", event.url, json.dumps(event.event_types),
                event.description, at, wid)
    elif isinstance(event, WebhookEndpoint.Enabled):
        sql.run("UPDATE v_webhook_endpoints SET status = 'enabled', disabled_reason = NULL, "
                "updated_at = ? WHERE id = ?", at, wid)
    elif isinstance(event, WebhookEndpoint.Disabled):
        sql.run("UPDATE v_webhook_endpoints SET status = 'disabled', disabled_reason = ?, "
                "updated_at = ? WHERE id = ?", event.reason, at, wid)
    elif isinstance(event, WebhookEndpoint.Deleted):
        sql.run("UPDATE v_webhook_endpoints SET status = ?, updated_at = ? WHERE id = ?",
                DELETED, at, wid)
    else:
        sql.run("UPDATE v_webhook_endpoints SET updated_at = ? WHERE id = ?", at, wid)
    return True


def endpoint_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "event_types": json.loads(row["event_types"]),
        "description": row["description"],
        "status": row["status"],
        "disabled_reason": row["disabled_reason"],
        "created_at": api_time(row["created_at"]),
        "updated_at": api_time(row["updated_at"]),
    }


def get_endpoint(sql: Sql, *, partner_id: str, endpoint_id: str) -> dict[str, Any] | None:
    row = sql.one("SELECT * FROM v_webhook_endpoints WHERE id = ? AND partner_id = ? AND "
                  "status <> ?", endpoint_id, partner_id, DELETED)
    return endpoint_json(row) if row else None


def list_endpoints(sql: Sql, *, partner_id: str, after_seq: int,
                   limit: int) -> tuple[list[dict[str, Any]], int | None]:
    return keyset(sql, "SELECT * FROM v_webhook_endpoints WHERE partner_id = ? AND seq > ? AND "
                  "status <> ? ORDER BY seq", partner_id, after_seq, DELETED,
                  limit=limit, key="seq", item=endpoint_json)


def enabled(sql: Sql) -> list[dict[str, Any]]:
    """Every enabled endpoint (the delivery runner's list), oldest first."""
    return sql.all("SELECT * FROM v_webhook_endpoints WHERE status = 'enabled' ORDER BY seq")

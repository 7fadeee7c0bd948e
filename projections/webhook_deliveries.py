"""Webhook bookkeeping outside the views: signing secrets, each endpoint's fan-out position
and lease, and the deliveries with their attempts.

None of this is a function of the events, so a rebuild keeps it (like `s_timers_done`):
- `s_webhook_secrets` holds the signing secrets. They are not in the events because the
  log (and every export of it) is kept for ever and a secret in it, even encrypted under a
  server key, would live as long as the log; here a rotated secret is dropped once it
  expires, and no view, answer or export reads this table.
- `s_webhook_cursors`: per endpoint, the feed key (projections/public_events.py) up to
  which deliveries were cut, and a lease so that one process at a time delivers an
  endpoint (in event order), while others may take over once the lease ran out.
- `s_webhook_deliveries`: one row per (endpoint, public event), pending until a 2xx;
  `next_attempt_at` is the due-timer of its retry (service clock), indexed for the runner.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from projections.paging import keyset
from projections.sql import Sql
from projections.times import api_time, stored

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
DDL = (
    "CREATE TABLE IF NOT EXISTS s_webhook_secrets (endpoint_id TEXT NOT NULL, "
    "version INTEGER NOT NULL, secret TEXT NOT NULL, expires_at TEXT, "
    "PRIMARY KEY (endpoint_id, version))",
    "CREATE TABLE IF NOT EXISTS s_webhook_cursors (endpoint_id TEXT PRIMARY KEY, "
    "feed_key BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS s_webhook_deliveries (endpoint_id TEXT NOT NULL, "
    "event_key BIGINT NOT NULL, id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL, "
    "event_id TEXT NOT NULL, event_type TEXT NOT NULL, status TEXT NOT NULL, "
    "attempts TEXT NOT NULL, next_attempt_at TEXT, first_attempt_at TEXT, "
    "created_at TEXT NOT NULL, PRIMARY KEY (endpoint_id, event_key))",
    "CREATE INDEX IF NOT EXISTS s_webhook_deliveries_pending ON s_webhook_deliveries "
    "(status, endpoint_id, event_key)",
)


def delivery_id(endpoint_id: str, event_id: str) -> str:
    return "dlv_" + uuid5(NAMESPACE_URL, f"webhook:{endpoint_id}:{event_id}").hex


# -- secrets -------------------------------------------------------------------------------


def put_secret(sql: Sql, *, endpoint_id: str, version: int, secret: str,
               previous_expires_at: datetime | None = None) -> None:
    """Stores secret `version` and gives the earlier ones their expiry (a rotation)."""
    sql.run("INSERT INTO s_webhook_secrets (endpoint_id, version, secret, expires_at) "
            "VALUES (?, ?, ?, NULL) ON CONFLICT (endpoint_id, version) DO UPDATE "
            "SET secret = excluded.secret", endpoint_id, version, secret)
    if previous_expires_at is not None:
        sql.run("UPDATE s_webhook_secrets SET expires_at = ? WHERE endpoint_id = ? AND "
                "version < ? AND (expires_at IS NULL OR expires_at > ?)",
                stored(previous_expires_at), endpoint_id, version,
                stored(previous_expires_at))


def live_secrets(sql: Sql, *, endpoint_id: str, now: datetime) -> list[str]:
    """The secrets to sign with now, newest first; expired ones are dropped on the way."""
    sql.run("DELETE FROM s_webhook_secrets WHERE endpoint_id = ? AND expires_at IS NOT NULL "
            "AND expires_at <= ?", endpoint_id, stored(now))
    return [r["secret"] for r in sql.all(
        "SELECT secret FROM s_webhook_secrets WHERE endpoint_id = ? ORDER BY version DESC",
        endpoint_id)]


def drop_secrets(sql: Sql, *, endpoint_id: str) -> None:
    sql.run("DELETE FROM s_webhook_secrets WHERE endpoint_id = ?", endpoint_id)


# -- fan-out and leases ----------------------------------------------------------------------


def cursor(sql: Sql, *, endpoint_id: str, from_key: int) -> int:
    key = sql.scalar("SELECT feed_key FROM s_webhook_cursors WHERE endpoint_id = ?",
                     endpoint_id)
    if key is None:
        sql.run("INSERT INTO s_webhook_cursors (endpoint_id, feed_key) VALUES (?, ?) "
                "ON CONFLICT (endpoint_id) DO NOTHING", endpoint_id, from_key)
        return from_key
    return max(int(key), from_key)


def cut(sql: Sql, *, endpoint_id: str, partner_id: str, rows: list[dict[str, Any]],
        reached: int, now: datetime) -> None:
    """Records a delivery per feed row (once each, whichever process gets there first)
    and moves the endpoint's fan-out position to `reached`."""
    sql.many("INSERT INTO s_webhook_deliveries (endpoint_id, event_key, id, partner_id, "
             "event_id, event_type, status, attempts, next_attempt_at, first_attempt_at, "
             "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, '[]', ?, NULL, ?) "
             "ON CONFLICT (endpoint_id, event_key) DO NOTHING",
             [(endpoint_id, r["key"], delivery_id(endpoint_id, r["id"]), partner_id, r["id"],
               r["type"], PENDING, stored(now), stored(now)) for r in rows])
    sql.run("UPDATE s_webhook_cursors SET feed_key = ? WHERE endpoint_id = ? AND feed_key < ?",
            reached, endpoint_id, reached)


def lease(sql: Sql, *, endpoint_id: str, owner: str, now_ms: int, until_ms: int) -> bool:
    """Takes (or extends) the endpoint's delivery lease; False while another holds it."""
    sql.run("INSERT INTO s_webhook_cursors (endpoint_id, feed_key) VALUES (?, 0) "
            "ON CONFLICT (endpoint_id) DO NOTHING", endpoint_id)
    sql.run("UPDATE s_webhook_cursors SET lease_owner = ?, lease_until = ? WHERE endpoint_id = ? "
            "AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)",
            owner, until_ms, endpoint_id, owner, now_ms)
    # Read back in the same transaction (the SQLite cursor has no row count).
    return bool(sql.scalar("SELECT lease_owner FROM s_webhook_cursors WHERE endpoint_id = ?",
                           endpoint_id) == owner)


def release(sql: Sql, *, endpoint_id: str, owner: str) -> None:
    sql.run("UPDATE s_webhook_cursors SET lease_owner = NULL, lease_until = 0 "
            "WHERE endpoint_id = ? AND lease_owner = ?", endpoint_id, owner)


# -- the runner's queue ------------------------------------------------------------------------


def heads(sql: Sql) -> list[dict[str, Any]]:
    """Each enabled endpoint's oldest pending delivery (its queue's head), with when it is
    due; a disabled or deleted endpoint's queue waits without costing a pass anything."""
    return sql.all(
        "SELECT d.endpoint_id AS endpoint_id, d.event_key AS event_key, "
        "d.next_attempt_at AS next_attempt_at FROM s_webhook_deliveries d JOIN "
        "(SELECT endpoint_id, MIN(event_key) AS k FROM s_webhook_deliveries "
        "WHERE status = ? GROUP BY endpoint_id) h ON h.endpoint_id = d.endpoint_id "
        "AND h.k = d.event_key JOIN v_webhook_endpoints e ON e.id = d.endpoint_id "
        "AND e.status = 'enabled'", PENDING)


def head(sql: Sql, *, endpoint_id: str) -> dict[str, Any] | None:
    return sql.one("SELECT * FROM s_webhook_deliveries WHERE endpoint_id = ? AND status = ? "
                   "ORDER BY event_key LIMIT 1", endpoint_id, PENDING)


def record_attempt(sql: Sql, *, delivery: dict[str, Any], at: datetime,
                   status_code: int | None, error: str | None, status: str,
                   next_attempt_at: datetime | None) -> None:
    attempts = json.loads(delivery["attempts"])
    attempts.append({"at": api_time(at), "status_code": status_code, "error": error})
    sql.run("UPDATE s_webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
            "first_attempt_at = COALESCE(first_attempt_at, ?) WHERE endpoint_id = ? AND "
            "event_key = ?", status, json.dumps(attempts),
            stored(next_attempt_at) if next_attempt_at else None, stored(at),
            delivery["endpoint_id"], delivery["event_key"])


def redeliver(sql: Sql, *, endpoint_id: str, delivery_id: str, now: datetime) -> bool:
    """Puts the delivery back in the endpoint's queue, due now (its attempts stay)."""
    if sql.scalar("SELECT id FROM s_webhook_deliveries WHERE endpoint_id = ? AND id = ?",
                  endpoint_id, delivery_id) is None:
        return False
    sql.run("UPDATE s_webhook_deliveries SET status = ?, next_attempt_at = ?, "
            "first_attempt_at = NULL WHERE endpoint_id = ? AND id = ?",
            PENDING, stored(now), endpoint_id, delivery_id)
    return True


# -- reads -------------------------------------------------------------------------------------


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "attempts": json.loads(row["attempts"]),
        "status": row["status"],
        "next_attempt_at": api_time(row["next_attempt_at"]) if row["status"] == PENDING
        else None,
        "created_at": api_time(row["created_at"]),
    }


def get_delivery(sql: Sql, *, endpoint_id: str, delivery_id: str) -> dict[str, Any] | None:
    row = sql.one("SELECT * FROM s_webhook_deliveries WHERE endpoint_id = ? AND id = ?",
                  endpoint_id, delivery_id)
    return delivery_json(row) if row else None


def list_deliveries(sql: Sql, *, endpoint_id: str, after_key: int, limit: int,
                    status: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """The endpoint's deliveries in event order."""
    where, args = ["endpoint_id = ?", "event_key > ?"], [endpoint_id, after_key]
    if status is not None:
        where.append("status = ?")
        args.append(status)
    return keyset(sql, f"SELECT * FROM s_webhook_deliveries WHERE {' AND '.join(where)} "
                  "ORDER BY event_key", *args, limit=limit, key="event_key", item=delivery_json)


def partner_deliveries(sql: Sql, *, partner_id: str, endpoint_id: str | None,
                       limit: int) -> list[dict[str, Any]]:
    """The partner's most recent deliveries, newest first (the CLI's table)."""
    where, args = ["partner_id = ?"], [partner_id]
    if endpoint_id is not None:
        where.append("endpoint_id = ?")
        args.append(endpoint_id)
    rows = sql.all(f"SELECT * FROM s_webhook_deliveries WHERE {' AND '.join(where)} "
                   "ORDER BY event_key DESC LIMIT ?", *args, limit)
    return [{**delivery_json(r), "endpoint_id": r["endpoint_id"]} for r in rows]

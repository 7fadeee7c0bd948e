"""Audit trail view: every event of a partner in log order, with actor, entity, type and data.

`v_entities` remembers which partner each aggregate belongs to, because only an
aggregate's first event names the partner.
"""

from __future__ import annotations

import json
from typing import Any

from aggregates.base import Actor
from aggregates.invoice import Invoice
from aggregates.line import Line
from aggregates.partner import Partner
from projections import event_rows
from projections.events import entity_type, event_data_json, event_type
from projections.paging import keyset
from projections.redaction import without_secrets
from projections.sql import Sql
from projections.times import api_time

NAME = "audit_trail"
TABLES = ("v_audit", "v_entities")
DDL = (
    "CREATE TABLE IF NOT EXISTS v_entities (entity_id TEXT PRIMARY KEY, partner_id TEXT)",
    "CREATE TABLE IF NOT EXISTS v_audit (position BIGINT PRIMARY KEY, partner_id TEXT, "
    "occurred_at TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, "
    "event_type TEXT NOT NULL, actor_key_id TEXT NOT NULL, actor_role TEXT NOT NULL, "
    "data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_audit_by_partner ON v_audit (partner_id, position)",
    "CREATE INDEX IF NOT EXISTS v_audit_by_entity ON v_audit (entity_id, position)",
    "CREATE INDEX IF NOT EXISTS v_audit_by_time ON v_audit (occurred_at, position)",
)
# Indexes that only reads use (the trail's filters, as-of replicas, explain): a rebuild
# leaves them out of its scratch copy, where a million rows would only maintain them.
READ_INDEXES = ("v_audit_by_partner", "v_audit_by_entity", "v_audit_by_time")


def _partner_of(sql: Sql, position: int, event: Any, entity_id: str) -> str | None:
    if isinstance(event, Partner.Created):
        partner: str | None = entity_id
    elif hasattr(event, "originator_topic"):
        partner_id = getattr(event, "partner_id", None)
        partner = str(partner_id) if partner_id is not None else None
    else:
        # The same statement fetches the row the event's next views read (event_rows).
        return event_rows.entity_partner(
            sql, position, entity_id, line=isinstance(event, Line.Event),
            state=isinstance(event, Partner.Event | Invoice.Event))
    sql.run("INSERT INTO v_entities (entity_id, partner_id) VALUES (?, ?)", entity_id, partner)
    return partner


def apply(sql: Sql, position: int, event: Any) -> bool:
    if not hasattr(event, "actor_id"):
        return False
    rows = event_rows.of(sql, position)
    entity_id = event_rows.entity_id(rows, event)
    partner = _partner_of(sql, position, event, entity_id)
    sql.run(
        "INSERT INTO v_audit (position, partner_id, occurred_at, entity_type, entity_id, "
        "event_type, actor_key_id, actor_role, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        position, partner, event_rows.stamped(rows, event), entity_type(event), entity_id,
        event_type(event), event.actor_id, event.actor_role, event_data_json(event),
    )
    if rows is not None:
        rows.partner = partner  # the v_audit row's partner, for public events
    return True


def audit_item(row: dict[str, Any]) -> dict[str, Any]:
    """One event as the audit trail, a line's history, a charge's explanation and the
    exports show it: the actor as its key was issued (`{key_id, role, scope}`, read from
    the stored form), and the data without secrets, even in rows that a version before
    the redaction wrote (a rebuild rewrites those)."""
    return {
        "position": row["position"],
        "occurred_at": api_time(row["occurred_at"]),
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "event_type": row["event_type"],
        "actor": Actor.from_stored(row["actor_key_id"], row["actor_role"]).as_json(),
        "data": without_secrets(json.loads(row["data"])),
    }


def trail(sql: Sql, *, partner_id: str, entity_id: str | None = None,
          event_type: str | None = None, since: str | None = None, until: str | None = None,
          after_position: int = 0, limit: int = 50,
          until_position: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """A page in log order; positions only grow, so paging stays stable as events arrive."""
    where, params = ["partner_id = ?", "position > ?"], [partner_id, after_position]
    for column, value, op in (("entity_id", entity_id, "="), ("event_type", event_type, "="),
                              ("occurred_at", since, ">="), ("occurred_at", until, "<"),
                              ("position", until_position, "<=")):
        if value is not None:
            where.append(f"{column} {op} ?")
            params.append(value)
    return keyset(sql, f"SELECT * FROM v_audit WHERE {' AND '.join(where)} ORDER BY position",
                  *params, limit=limit, key="position", item=audit_item)

"""The public event vocabulary: what partners' systems are told happened, and the feed view.

Domain events are the ledger's own language and change with it; partners integrate against
a small, stable set of types (`line.flagged`, `invoice.paid`, …) listed in `VOCABULARY`
and documented in docs/API.md. Each public event carries the resource as the API answers
it at that moment (a line, an invoice, an alert), read from the views the same event has
just updated (this view runs after them), and never a secret (projections/redaction.py).

The feed (`v_public_events`) is a view: one row per public event, in log order, keyed by
`key = position * FANOUT + n` (an event may say two things: a failed payment that makes an
invoice past due is `invoice.payment_failed` then `invoice.past_due`). The public `id`
is derived from the event's originator id and version, so it never changes, even when the
views are rebuilt. Webhook deliveries are cut from this feed (service/webhooks/).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from aggregates.alerts import PartnerAlerts
from aggregates.invoice import PAST_DUE, Invoice
from aggregates.line import Line
from aggregates.partner import Partner
from aggregates.sub_account import SubAccount
from aggregates.usage import UsageLedger
from projections import aggregate_states, event_rows
from projections.billing import invoice_json
from projections.event_rows import UNKNOWN, EventRows
from projections.events import COMPACT, event_data
from projections.lines import get_line, line_json
from projections.paging import keyset
from projections.redaction import without_secrets
from projections.sql import Sql
from projections.sub_accounts import get_sub_account
from projections.times import api_time

NAME = "public_events"
TABLES = ("v_public_events",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_public_events (key BIGINT PRIMARY KEY, "
    "partner_id TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, created TEXT NOT NULL, "
    "data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_public_events_by_partner ON v_public_events "
    "(partner_id, key)",
)
FANOUT = 4  # public events one domain event may become (keys stay unique and ordered)

# Domain event → the public types it becomes, in order. A domain event not named here is
# internal (claims, campaign bookkeeping, payment attempts, discounts' use, …).
_LINE_STATUS = (Line.Assigned, Line.Unassigned, Line.Unflagged, Line.MoveRequested,
                Line.MoveApproved, Line.MoveRejected, Line.MoveCancelled, Line.Moved,
                Line.DeleteRequested, Line.DeleteApproved, Line.DeleteRejected,
                Line.DeleteCancelled)
VOCABULARY: dict[type, tuple[str, ...]] = {
    Line.Provisioned: ("line.provisioned",),
    **{cls: ("line.status_changed",) for cls in _LINE_STATUS},
    Line.Flagged: ("line.flagged",),
    Line.SendingPaused: ("line.sending_paused",),
    Line.SendingResumed: ("line.sending_resumed",),
    SubAccount.MergeApproved: ("sub_account.merged",),
    Invoice.Issued: ("invoice.issued",),
    Invoice.PaymentSucceeded: ("invoice.paid",),
    Invoice.PaymentFailed: ("invoice.payment_failed",),  # + invoice.past_due, see below
    Invoice.Voided: ("invoice.voided",),
    Invoice.Refunded: ("refund.issued",),
    Invoice.DisputeOpened: ("dispute.opened",),
    Invoice.DisputeResolved: ("dispute.resolved",),
    Invoice.CreditNoteIssued: ("credit_note.issued",),
    Partner.CreditGranted: ("credit.granted",),
    PartnerAlerts.AlertRaised: ("alert.raised",),
    PartnerAlerts.AlertResolved: ("alert.resolved",),
    UsageLedger.UsageRecorded: ("usage.recorded",),
}
# Types documented but not emitted by this version (their domain event is not built yet).
RESERVED: tuple[str, ...] = ()
PAST_DUE_TYPE = "invoice.past_due"
TYPES: tuple[str, ...] = tuple(sorted(
    {t for types in VOCABULARY.values() for t in types} | {PAST_DUE_TYPE, *RESERVED}))
# Qualified domain event names (the audit trail's `event_type`) → public types.
BY_EVENT_TYPE: dict[str, tuple[str, ...]] = {
    cls.__qualname__: types for cls, types in VOCABULARY.items()}

_PATTERN = re.compile(r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$")


def valid_pattern(pattern: str) -> bool:
    """A type filter is a known type, `<resource>.*` for a known resource, or `*`."""
    if not _PATTERN.match(pattern):
        return False
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return any(t.startswith(pattern[:-1]) for t in TYPES)
    return pattern in TYPES


def matches(patterns: list[str], public_type: str) -> bool:
    return any(p == "*" or p == public_type or (p.endswith(".*") and
                                                public_type.startswith(p[:-1]))
               for p in patterns)


def event_id(originator_id: Any, version: int, n: int = 0) -> str:
    """Stable for ever: the same domain event always gives the same id."""
    suffix = f"_{n}" if n else ""
    return f"evt_{str(originator_id).replace('-', '')}_{version}{suffix}"


def public_types(event: Any) -> list[str]:
    """The public types a domain event becomes (empty: an internal event)."""
    types = list(VOCABULARY.get(type(event), ()))
    if isinstance(event, Invoice.PaymentFailed):
        types.append(PAST_DUE_TYPE)  # kept only on the first failure, see `_past_due_first`
    return types


# -- payloads: the resource as the API answers it, after this event ---------------------
# Each reads what the views before this one wrote for the event: from the rows they handed
# on (`Applying.rows`, projections/event_rows.py) where they did, else by a SELECT.


class Applying(NamedTuple):
    """The event a payload describes: its position, partner, and the rows its views
    handed on (None: applied outside the read model's loop)."""

    position: int
    partner_id: str
    event: Any
    rows: EventRows | None


def _line(sql: Sql, at: Applying) -> dict[str, Any]:
    line_id = event_rows.entity_id(at.rows, at.event)
    if at.rows is not None and at.rows.line is not UNKNOWN:
        row = at.rows.line  # `get_line`'s row, as the lines view just wrote it
        return line_json(row) if row is not None and row["id"] == line_id and \
            row["partner_id"] == at.partner_id else {}
    return get_line(sql, partner_id=at.partner_id, line_id=line_id) or {}


def _sub_account(sql: Sql, at: Applying) -> dict[str, Any]:
    return get_sub_account(sql, partner_id=at.partner_id,
                           sub_account_id=str(at.event.originator_id)) or {}


def _invoice(sql: Sql, at: Applying) -> dict[str, Any]:
    invoice = aggregate_states.load(sql, Invoice, str(at.event.originator_id),
                                    position=at.position)
    return invoice_json(invoice) if invoice is not None else {}


def _refund(sql: Sql, at: Applying) -> dict[str, Any]:
    invoice = _invoice(sql, at)
    return {"invoice_id": str(at.event.originator_id), "amount": at.event.amount,
            "reason": getattr(at.event, "reason", None), "currency": invoice.get("currency"),
            "invoice": invoice}


def _dispute(sql: Sql, at: Applying) -> dict[str, Any]:
    return {**event_data(at.event), "invoice_id": str(at.event.originator_id),
            "invoice": _invoice(sql, at)}


def _credit(sql: Sql, at: Applying) -> dict[str, Any]:
    partner = aggregate_states.load(sql, Partner, at.partner_id, position=at.position)
    return {"amount": at.event.amount, "reason": at.event.reason,
            "currency": partner.currency if partner else None,
            "credit_balance": partner.credit_balance if partner else None}


def _alert(sql: Sql, at: Applying) -> dict[str, Any]:
    row = sql.one("SELECT * FROM v_alerts WHERE partner_id = ? AND alert_key = ?",
                  at.partner_id, at.event.key)
    if row is None:
        return event_data(at.event)
    resolved = row["status"] != "open"
    return {"key": row["alert_key"], "kind": row["kind"], "subject_id": row["subject_id"],
            "message": row["message"], "data": json.loads(row["data"]),
            "status": row["status"], "raised_at": api_time(row["raised_at"]),
            "resolved_at": api_time(row["resolved_at"]) if resolved else None,
            "resolution": row["resolution"] if resolved else None}


def _usage(sql: Sql, at: Applying) -> dict[str, Any]:
    """A batch summary, never the rows: how many (line, hour) figures, for which lines."""
    lines = sorted({str(row[0]) for row in at.event.rows})
    return {"day": at.event.day, "rows": len(at.event.rows), "line_count": len(lines),
            "line_ids": lines[:100]}


_PAYLOADS: dict[str, Callable[[Sql, Applying], dict[str, Any]]] = {
    "line": _line, "sub_account": _sub_account, "invoice": _invoice, "refund": _refund,
    "dispute": _dispute, "credit_note": _dispute, "credit": _credit, "alert": _alert,
    "usage": _usage,
}


def payload(sql: Sql, at: Applying, public_type: str) -> dict[str, Any]:
    data = _PAYLOADS[public_type.split(".")[0]](sql, at)
    return without_secrets(data)


def _past_due_first(sql: Sql, at: Applying) -> bool:
    """A failed payment makes the invoice past due only the first time."""
    invoice = aggregate_states.load(sql, Invoice, str(at.event.originator_id),
                                    position=at.position)
    if invoice is None or invoice.status != PAST_DUE:
        return False
    failures = getattr(invoice, "failures", None)
    return failures is None or len(failures) == 1


def apply(sql: Sql, position: int, event: Any) -> bool:
    types = public_types(event)
    if not types:
        return False
    # The audit view ran first in this transaction and knows the event's partner.
    rows = event_rows.of(sql, position)
    partner_id: str | None
    if rows is not None and rows.partner is not UNKNOWN:
        partner_id = rows.partner
    else:
        partner_id = sql.scalar("SELECT partner_id FROM v_audit WHERE position = ?", position)
    if partner_id is None:
        return False
    at = Applying(position, partner_id, event, rows)
    if PAST_DUE_TYPE in types and not _past_due_first(sql, at):
        types.remove(PAST_DUE_TYPE)
    created, entity_id = event_rows.stamped(rows, event), event_rows.entity_id(rows, event)
    for n, public_type in enumerate(types):
        sql.run("INSERT INTO v_public_events (key, partner_id, id, type, created, data) "
                "VALUES (?, ?, ?, ?, ?, ?)", position * FANOUT + n, partner_id,
                event_id(entity_id, event.originator_version, n), public_type,
                created, COMPACT.encode(payload(sql, at, public_type)))
    return True


# -- reads ---------------------------------------------------------------------------------


def item(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "type": row["type"], "created": api_time(row["created"]),
            "data": json.loads(row["data"])}


def type_clause(patterns: list[str]) -> tuple[str, list[Any]]:
    """SQL matching any of the type patterns (validated by `valid_pattern`)."""
    if not patterns or "*" in patterns:
        return "1 = 1", []
    parts, params = [], []
    for pattern in patterns:
        if pattern.endswith(".*"):
            parts.append("type LIKE ?")
            params.append(pattern[:-1] + "%")
        else:
            parts.append("type = ?")
            params.append(pattern)
    return "(" + " OR ".join(parts) + ")", params


def feed(sql: Sql, *, partner_id: str, types: list[str], since: str | None = None,
         until: str | None = None, after_key: int = 0, limit: int = 50,
         until_position: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the partner's public events in log order (positions only grow, so paging
    stays stable as events arrive)."""
    clause, params = type_clause(types)
    where, args = ["partner_id = ?", "key > ?", clause], [partner_id, after_key, *params]
    for column, value, op in (("created", since, ">="), ("created", until, "<"),
                              ("key", None if until_position is None else
                               (until_position + 1) * FANOUT, "<")):
        if value is not None:
            where.append(f"{column} {op} ?")
            args.append(value)
    return keyset(sql, f"SELECT * FROM v_public_events WHERE {' AND '.join(where)} "
                  "ORDER BY key", *args, limit=limit, key="key", item=item)


def after(sql: Sql, *, partner_id: str, after_key: int, limit: int) -> list[dict[str, Any]]:
    """The partner's feed rows after `after_key` (the delivery runner's fan-out)."""
    return sql.all("SELECT * FROM v_public_events WHERE partner_id = ? AND key > ? "
                   "ORDER BY key LIMIT ?", partner_id, after_key, limit)

"""The state of each `Partner` and `Invoice` as its own events make it, kept as a view.

The billing views need what these aggregates know (pricing, payment methods, credit,
discounts; an invoice's items, payments, refunds, disputes). Rather than restating each
event's effect in SQL, this view applies the event to the aggregate exactly as the
domain does (`event.mutate`) and stores the resulting state, so the view can never
disagree with the aggregate. `v_invoices` adds the columns invoices are listed by.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from aggregates.invoice import Invoice
from aggregates.partner import Partner
from projections import event_rows
from projections.redaction import blanked
from projections.sql import Sql
from projections.times import stored
from projections.transcoding import transcoder

NAME = "aggregate_states"
TABLES = ("v_states", "v_invoices")
DDL = (
    "CREATE TABLE IF NOT EXISTS v_states (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
    "partner_id TEXT NOT NULL, version BIGINT NOT NULL, state TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_states_by_kind ON v_states (kind, partner_id)",
    "CREATE TABLE IF NOT EXISTS v_invoices (id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, number TEXT NOT NULL, period_start TEXT NOT NULL, "
    "status TEXT NOT NULL, issued_at TEXT NOT NULL, amount_due BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_invoices_by_partner ON v_invoices (partner_id, seq)",
    "CREATE INDEX IF NOT EXISTS v_invoices_by_status ON v_invoices (status, partner_id)",
)
KINDS: dict[type[Any], str] = {Partner: "Partner", Invoice: "Invoice"}
A = TypeVar("A", bound=Partner | Invoice)
_CODER = transcoder()


def encode(aggregate: Any) -> str:
    """The state as stored in the view. A partner's cards keep brand, last4 and expiry but
    not their gateway token: charging loads the partner from the event store, and what
    the views show needs no token."""
    state = {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
    if isinstance(aggregate, Partner):
        state = blanked(state)
    return _CODER.encode(state).decode()


def decode(cls: type[A], text: str) -> A:
    """The aggregate from its stored state (`encode`), without replaying its events."""
    aggregate = cls.__new__(cls)
    aggregate.__dict__.update(_CODER.decode(text.encode()))
    aggregate.__dict__["_pending_events"] = []
    return aggregate


def _kind(event: Any) -> type[Partner] | type[Invoice] | None:
    if isinstance(event, Partner.Event):
        return Partner
    if isinstance(event, Invoice.Event):
        return Invoice
    return None


def apply(sql: Sql, position: int, event: Any) -> bool:
    cls = _kind(event)
    if cls is None:
        return False
    entity_id = str(event.originator_id)
    rows = event_rows.of(sql, position)
    if hasattr(event, "originator_topic"):
        aggregate = event.mutate(None)
        partner_id = entity_id if cls is Partner else str(aggregate.partner_id)
        kind, state = KINDS[cls], encode(aggregate)
        sql.run("INSERT INTO v_states (id, kind, partner_id, version, state) "
                "VALUES (?, ?, ?, ?, ?)", entity_id, kind, partner_id, aggregate.version, state)
    else:
        saved: tuple[str, str] | None
        if rows is not None and entity_id in rows.states:
            saved = rows.states[entity_id]  # the audit view read it with the partner
        else:
            found = sql.one("SELECT kind, state FROM v_states WHERE id = ?", entity_id)
            saved = None if found is None else (found["kind"], found["state"])
        if saved is None:
            return False
        kind = saved[0]
        aggregate = decode(cls, saved[1])
        event.mutate(aggregate)
        state = encode(aggregate)
        sql.run("UPDATE v_states SET version = ?, state = ? WHERE id = ?", aggregate.version,
                state, entity_id)
    if rows is not None:
        rows.states[entity_id] = (kind, state)  # as written, for timers and public events
    if cls is Invoice:
        _index_invoice(sql, position, aggregate)
    return True


def _index_invoice(sql: Sql, position: int, invoice: Invoice) -> None:
    sql.run(
        "INSERT INTO v_invoices (id, partner_id, seq, number, period_start, status, issued_at, "
        "amount_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "status = excluded.status",
        str(invoice.id), str(invoice.partner_id), position, invoice.number,
        stored(invoice.period_start), invoice.status, stored(invoice.created_on),
        invoice.amount_due,
    )


def load(sql: Sql, cls: type[A], entity_id: str, *, position: int | None = None) -> A | None:
    """The aggregate's state in the view; a view applying the event at `position` takes
    it from the rows this event's views handed on (projections/event_rows.py)."""
    rows = None if position is None else event_rows.of(sql, position)
    if rows is not None and entity_id in rows.states:
        saved = rows.states[entity_id]
        return decode(cls, saved[1]) if saved is not None and saved[0] == KINDS[cls] else None
    row = sql.one("SELECT state FROM v_states WHERE id = ? AND kind = ?", entity_id, KINDS[cls])
    return decode(cls, row["state"]) if row else None


def partner_ids(sql: Sql) -> list[str]:
    return [r["id"] for r in sql.all("SELECT id FROM v_states WHERE kind = 'Partner' "
                                     "ORDER BY id")]


def invoices(sql: Sql, *, partner_id: str, status: str | None = None,
             open_or_since: datetime | None = None) -> list[Invoice]:
    """A partner's invoices by period; `open_or_since` keeps only those still open or past
    due, or whose period started at or after that time."""
    where, params = ["s.partner_id = ?"], [partner_id]
    if status:
        where.append("i.status = ?")
        params.append(status)
    if open_or_since is not None:
        where.append("(i.status IN ('open', 'past_due') OR i.period_start >= ?)")
        params.append(stored(open_or_since))
    rows = sql.all(
        "SELECT s.state FROM v_invoices i JOIN v_states s ON s.id = i.id "
        f"WHERE {' AND '.join(where)} ORDER BY i.period_start", *params)
    return [decode(Invoice, r["state"]) for r in rows]

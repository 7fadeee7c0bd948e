"""Credit notes as the billing views show them: on their invoice, and listed per partner.

A credit note lives in its invoice's state (`Invoice.CreditNoteIssued`), so these read
the invoices' states the `aggregate_states` view keeps; a partner has one invoice a
month, so listing its notes reads few rows.
"""

from __future__ import annotations

from typing import Any

from aggregates.invoice import Invoice
from projections import aggregate_states
from projections.paging import split
from projections.sql import Sql
from projections.times import api_time


def credit_note_json(invoice: Invoice, note: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(note["id"]),
        "number": note["number"],
        "invoice_id": str(invoice.id),
        "invoice_number": invoice.number,
        "amount": note["amount"],
        "currency": invoice.currency,
        "items": [{"index": item["index"], "amount": item["amount"]} for item in note["items"]],
        "reason": note["reason"],
        "applied": {"amount_due_reduced": note["amount_due_reduced"],
                    "credit_balance_added": note["credit_balance_added"],
                    "refunded": note["refunded"]},
        "issued_at": api_time(note["issued_at"]),
        "actor": {"key_id": note["actor_id"], "role": note["actor_role"]},
    }


def invoice_credit_notes(invoice: Invoice) -> list[dict[str, Any]]:
    """The invoice's credit notes, oldest first."""
    return [credit_note_json(invoice, note) for note in invoice.credit_notes]


def item_credit_notes(invoice: Invoice, index: int) -> list[dict[str, Any]]:
    """The credit notes that credited item `index` (for its charge explanation), with the
    part each credited on the item."""
    return [{"id": str(note["id"]), "number": note["number"], "item_amount": item["amount"],
             "reason": note["reason"], "issued_at": api_time(note["issued_at"])}
            for note in invoice.credit_notes for item in note["items"]
            if item["index"] == index]


def _sequence(number: str) -> int:
    return int(number.rpartition("-")[2])


def list_credit_notes(sql: Sql, *, partner_id: str, after_seq: int,
                      limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """The partner's credit notes, newest first; the cursor is the sequence number of the
    last note on the page."""
    bound = after_seq or 2**62
    notes = sorted(((_sequence(note["number"]), invoice, note)
                    for invoice in aggregate_states.invoices(sql, partner_id=partner_id)
                    for note in invoice.credit_notes if _sequence(note["number"]) < bound),
                   key=lambda entry: entry[0], reverse=True)
    page, last = split(notes, limit, key=lambda entry: entry[0])
    return [credit_note_json(invoice, note) for _, invoice, note in page], last

"""Invoice corrections: credit notes and void (rules: aggregates/credit_note.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from aggregates.base import Actor
from aggregates.credit_note import Allocation
from aggregates.invoice import Invoice
from service.commands.base import Command, Services, handles
from service.commands.invoice_numbers import claim_credit_note_number


@dataclass(frozen=True)
class IssueCreditNote(Command[tuple[Invoice, UUID]]):
    """Answers the invoice and the new credit note's id. Neither `amount` nor `items`:
    what is left to credit on the whole invoice."""

    partner_id: UUID
    invoice_id: UUID
    reason: str
    amount: int | None = None
    items: tuple[tuple[int, int], ...] = ()  # (index, amount) pairs
    refund: bool = False
    credit_note_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True)
class VoidInvoice(Command[Invoice]):
    """Voids an invoice with nothing paid and gives back the credit it applied."""

    partner_id: UUID
    invoice_id: UUID
    reason: str


def credit_invoice(s: Services, *, invoice: Invoice, credit_note_id: UUID,
                   amount: int | None, items: Sequence[Mapping[str, Any]] | None,
                   refund: bool, reason: str, actor: Actor, at: datetime) -> Allocation:
    """Issues a credit note on `invoice` and saves it with its partner's count and the
    claim on its number, in one transaction (a dispute resolved by credit comes here
    too). The refund part is recorded on the invoice in that same event: once."""
    _, _, allocation = invoice.plan_credit_note(amount=amount, items=items, refund=refund)
    partner = s.app.partner(invoice.partner_id)
    number = partner.number_credit_note(
        invoice_id=invoice.id, credit_note_id=credit_note_id,
        credit_balance_added=allocation.credit_balance_added, actor=actor, at=at)
    claim = claim_credit_note_number(s.app, number=number, credit_note_id=credit_note_id,
                                     actor=actor, at=at)
    issued = invoice.issue_credit_note(credit_note_id=credit_note_id, number=number,
                                       amount=amount, items=items, refund=refund,
                                       reason=reason, actor=actor, at=at)
    # The invoice's event first: `ledger verify` re-derives the note from the invoice and
    # the partner as they stood before it.
    s.app.save(invoice, partner, claim)
    return issued


@handles(IssueCreditNote)
def issue_credit_note(s: Services, c: IssueCreditNote, actor: Actor,
                      now: datetime) -> tuple[Invoice, UUID]:
    invoice = s.billing.invoice(c.partner_id, c.invoice_id)
    credit_invoice(s, invoice=invoice, credit_note_id=c.credit_note_id, amount=c.amount,
                   items=[{"index": index, "amount": amount} for index, amount in c.items],
                   refund=c.refund, reason=c.reason, actor=actor, at=now)
    return invoice, c.credit_note_id


@handles(VoidInvoice)
def void_invoice(s: Services, c: VoidInvoice, actor: Actor, now: datetime) -> Invoice:
    invoice = s.billing.invoice(c.partner_id, c.invoice_id)
    invoice.void(reason=c.reason, actor=actor, at=now)
    partner = s.app.partner(c.partner_id)
    partner.restore_credit(invoice_id=invoice.id, amount=invoice.credit_applied, actor=actor,
                           at=now)
    s.app.save(invoice, partner)
    return invoice

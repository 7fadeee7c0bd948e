"""Invoice corrections: credit notes (support issues, billing readers read) and void."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, status

from aggregates.errors import NotFound
from aggregates.invoice import Invoice
from projections import billing as billing_view
from projections import credit_notes as view
from service.api.answers import answering
from service.api.auth import Context, partner_access
from service.api.billing_answers import Invoice as InvoiceAnswer
from service.api.credit_note_schemas import (
    CreditNoteCreate,
    CreditNoteOut,
    CreditNotePage,
    InvoiceVoid,
)
from service.api.paging import AsOf, PageDep
from service.commands import execute
from service.commands.credit_notes import IssueCreditNote, VoidInvoice

router = APIRouter(prefix="/v1/partners/{pid}", tags=["billing"])


@router.post("/invoices/{iid}/credit-notes", status_code=status.HTTP_201_CREATED,
             response_model=CreditNoteOut)
def issue_credit_note(iid: UUID, body: CreditNoteCreate,
                      ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    """Support corrects an issued invoice. The amount reduces what is due while the
    invoice is unpaid (settling it when nothing is left: no more payment retries), then is
    refunded when `refund` is true (at most paid minus refunded), and otherwise goes to
    the partner's credit balance. 409 `credit_note_exceeds_invoice` beyond the invoice's
    total less earlier credit notes (or an item's amount less its earlier credits)."""
    invoice, note_id = execute(ctx.ledger, IssueCreditNote(
        partner_id=ctx.partner_id, invoice_id=iid, reason=body.reason, amount=body.amount,
        items=tuple((item.index, item.amount) for item in body.items or ()),
        refund=body.refund), actor=ctx.actor)
    note = next(n for n in invoice.credit_notes if n["id"] == note_id)
    return view.credit_note_json(invoice, note)


def _stored_invoice(ctx: Context, iid: UUID, as_of: str | None) -> Invoice:
    invoice = ctx.views(as_of).read(billing_view.get_invoice, partner_id=str(ctx.partner_id),
                                    invoice_id=str(iid))
    if invoice is None:
        raise NotFound(f"no invoice {iid}")
    return invoice


@router.get("/invoices/{iid}/credit-notes", response_model=CreditNotePage)
def invoice_credit_notes(iid: UUID, as_of: AsOf = None,
                         ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    """The invoice's credit notes, oldest first (one page: an invoice has few)."""
    return {"data": view.invoice_credit_notes(_stored_invoice(ctx, iid, as_of)),
            "next_cursor": None}


@router.get("/credit-notes", response_model=CreditNotePage)
def list_credit_notes(page: PageDep, as_of: AsOf = None,
                      ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    """Every credit note of the partner, newest first, paged."""
    rows, last = ctx.views(as_of).read(view.list_credit_notes, partner_id=str(ctx.partner_id),
                                       after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.post("/invoices/{iid}/void", **answering(InvoiceAnswer))
def void_invoice(iid: UUID, body: InvoiceVoid,
                 ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    """Support voids an invoice with nothing paid (409 `invalid_transition` otherwise); the
    credit it applied returns to the partner's credit balance."""
    invoice = execute(ctx.ledger, VoidInvoice(partner_id=ctx.partner_id, invoice_id=iid,
                                              reason=body.reason), actor=ctx.actor)
    return billing_view.invoice_json(invoice)

"""Billing: payment methods, credits, discounts, summary, upcoming invoice, invoices,
payments, refunds, disputes, charge explanation, my status."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Path, Response, status

from aggregates.discounts import canonical_percent
from aggregates.errors import NotFound
from aggregates.invoice import Invoice
from projections import billing as view
from service.api.answers import Page, answering
from service.api.auth import Context, partner_access
from service.api.billing_answers import (
    BillingSummary,
    CreditBalance,
    Discount,
    DisputeOpened,
    ItemExplanation,
    MyStatus,
    PaymentMethod,
    UpcomingInvoice,
)
from service.api.billing_answers import Invoice as InvoiceAnswer
from service.api.fields import ItemNumber
from service.api.paging import AsOf, PageDep, encode_cursor
from service.api.schemas import (
    CreditGrant,
    DiscountCreate,
    DisputeOpen,
    DisputeResolve,
    PaymentMethodCreate,
    RefundCreate,
)
from service.commands import execute
from service.commands.billing import (
    AddDiscount,
    AddPaymentMethod,
    GrantCredit,
    MakeDefaultPaymentMethod,
    OpenDispute,
    PayInvoice,
    RefundInvoice,
    RemoveDiscount,
    RemovePaymentMethod,
    ResolveDispute,
)

router = APIRouter(prefix="/v1/partners/{pid}", tags=["billing"])


def _read(ctx: Context, query: Any, as_of: str | None = None, *, timed: bool = False,
          **kwargs: Any) -> Any:
    views = ctx.views(as_of)
    if timed:
        kwargs["now"] = views.now
    return views.read(query, partner_id=str(ctx.partner_id), **kwargs)


def _invoice_answer(ctx: Context, invoice_id: UUID) -> dict[str, Any]:
    return view.invoice_json(ctx.ledger.billing.invoice(ctx.partner_id, invoice_id))


@router.post("/payment-methods", status_code=status.HTTP_201_CREATED, **answering(PaymentMethod))
def add_payment_method(body: PaymentMethodCreate,
                       ctx: Context = partner_access("billing.write")) -> dict[str, Any]:
    partner, method_id = execute(
        ctx.ledger, AddPaymentMethod(partner_id=ctx.partner_id, **body.model_dump()),
        actor=ctx.actor)
    return view.payment_method_json(partner, method_id)


@router.get("/payment-methods", **answering(Page[PaymentMethod]))
def list_payment_methods(ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    partner = ctx.ledger.app.partner(ctx.partner_id)
    return {"data": [view.payment_method_json(partner, mid) for mid in partner.payment_methods],
            "next_cursor": None}


@router.post("/payment-methods/{mid}/make-default", **answering(PaymentMethod))
def make_default(mid: UUID, ctx: Context = partner_access("billing.write")) -> dict[str, Any]:
    partner = execute(ctx.ledger, MakeDefaultPaymentMethod(partner_id=ctx.partner_id,
                                                           method_id=mid), actor=ctx.actor)
    return view.payment_method_json(partner, mid)


@router.delete("/payment-methods/{mid}", status_code=status.HTTP_204_NO_CONTENT)
def remove_payment_method(mid: UUID,
                          ctx: Context = partner_access("billing.write")) -> Response:
    execute(ctx.ledger, RemovePaymentMethod(partner_id=ctx.partner_id, method_id=mid),
            actor=ctx.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/credits", **answering(CreditBalance))
def grant_credit(body: CreditGrant,
                 ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    partner = execute(ctx.ledger, GrantCredit(partner_id=ctx.partner_id, amount=body.amount,
                                              reason=body.reason), actor=ctx.actor)
    return {"credit_balance": partner.credit_balance, "currency": partner.currency}


@router.post("/discounts", status_code=status.HTTP_201_CREATED, **answering(Discount))
def add_discount(body: DiscountCreate,
                 ctx: Context = partner_access("discounts.manage")) -> dict[str, Any]:
    discount_id = str(uuid4())
    execute(ctx.ledger, AddDiscount(partner_id=ctx.partner_id, discount_id=discount_id,
                                    kind=body.kind, value=body.value,
                                    sub_account_id=body.sub_account_id, cycles=body.cycles),
            actor=ctx.actor)
    answer = body.model_dump(mode="json")
    if answer["kind"] == "percent":  # as stored and listed: "12.50" reads "12.5"
        answer["value"] = canonical_percent(answer["value"])
    return {"id": discount_id, **answer}


@router.get("/discounts", **answering(Page[Discount]))
def list_discounts(ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    partner = ctx.ledger.app.partner(ctx.partner_id)
    return {"data": [{"id": d.id, "kind": d.kind, "value": d.value,
                      "sub_account_id": d.sub_account_id, "cycles": d.cycles,
                      "cycles_used": partner.cycles_used(d.id)}
                     for d in partner.active_discounts()],
            "next_cursor": None}


@router.delete("/discounts/{did}", status_code=status.HTTP_204_NO_CONTENT)
def remove_discount(did: UUID,
                    ctx: Context = partner_access("discounts.manage")) -> Response:
    execute(ctx.ledger, RemoveDiscount(partner_id=ctx.partner_id, discount_id=str(did)),
            actor=ctx.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/billing/summary", **answering(BillingSummary))
def billing_summary(as_of: AsOf = None,
                    ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    return _read(ctx, view.billing_summary, as_of, timed=True)


@router.get("/billing/upcoming-invoice", **answering(UpcomingInvoice))
def upcoming_invoice(as_of: AsOf = None,
                     ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    return _read(ctx, view.upcoming_invoice, as_of, timed=True)


@router.get("/my-status", **answering(MyStatus))
def my_status(as_of: AsOf = None,
              ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    return _read(ctx, view.my_status, as_of, timed=True)


@router.get("/invoices", **answering(Page[InvoiceAnswer]))
def list_invoices(page: PageDep, as_of: AsOf = None,
                  ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    rows, last = _read(ctx, view.list_invoices, as_of, after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


def _stored_invoice(ctx: Context, iid: UUID, as_of: str | None = None) -> Invoice:
    invoice = _read(ctx, view.get_invoice, as_of, invoice_id=str(iid))
    if invoice is None:
        raise NotFound(f"no invoice {iid}")
    return invoice


@router.get("/invoices/{iid}", **answering(InvoiceAnswer))
def get_invoice(iid: UUID, as_of: AsOf = None,
                ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    return view.invoice_json(_stored_invoice(ctx, iid, as_of))


@router.get("/invoices/{iid}/items/{n}/explain", **answering(ItemExplanation))
def explain_item(iid: UUID, n: Annotated[ItemNumber, Path()], page: PageDep,
                 ctx: Context = partner_access("billing.read")) -> dict[str, Any]:
    """Why item `n` costs what it does, over the invoice's period only: `days` (the
    per-day arithmetic, one row per day of the period, always whole), `lines` (the lines
    that counted in the item, with their line-days), `pricing_events` (the pricing in
    effect when the period began, and changes recorded during it), and a page of `events`:
    the placements of those lines recorded during the period, in log order, `limit` (50,
    at most 500) at a time; `events_total` counts them all and `next_cursor` (null on the
    last page) reads the next page. Every page carries the same fields."""
    invoice = _stored_invoice(ctx, iid)
    explanation = ctx.ledger.read_model.read(view.explain_item, invoice=invoice, index=n,
                                             after_position=page.after, limit=page.limit)
    if explanation is None:
        raise NotFound(f"invoice {invoice.number} has no item {n}")
    explanation["next_cursor"] = encode_cursor(explanation.pop("next_position"))
    return explanation


@router.post("/invoices/{iid}/pay", **answering(InvoiceAnswer))
def pay(iid: UUID, ctx: Context = partner_access("billing.write")) -> dict[str, Any]:
    execute(ctx.ledger, PayInvoice(partner_id=ctx.partner_id, invoice_id=iid),
            actor=ctx.actor)
    return _invoice_answer(ctx, iid)


@router.post("/invoices/{iid}/refunds", **answering(InvoiceAnswer))
def refund(iid: UUID, body: RefundCreate,
           ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    execute(ctx.ledger, RefundInvoice(partner_id=ctx.partner_id, invoice_id=iid,
                                      amount=body.amount, reason=body.reason),
            actor=ctx.actor)
    return _invoice_answer(ctx, iid)


@router.post("/invoices/{iid}/disputes", status_code=status.HTTP_201_CREATED,
              **answering(DisputeOpened))
def open_dispute(iid: UUID, body: DisputeOpen,
                 ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    _, dispute_id = execute(ctx.ledger, OpenDispute(
        partner_id=ctx.partner_id, invoice_id=iid, item_index=body.item_index,
        reason=body.reason), actor=ctx.actor)
    return {"dispute_id": str(dispute_id), "invoice": _invoice_answer(ctx, iid)}


@router.post("/invoices/{iid}/disputes/{did}/resolve", **answering(InvoiceAnswer))
def resolve_dispute(iid: UUID, did: UUID, body: DisputeResolve,
                    ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    execute(ctx.ledger, ResolveDispute(
        partner_id=ctx.partner_id, invoice_id=iid, dispute_id=did, resolution=body.resolution,
        amount=body.amount, reason=body.reason), actor=ctx.actor)
    return _invoice_answer(ctx, iid)

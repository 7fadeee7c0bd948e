"""Billing commands: payment methods, credits, discounts, payments, refunds, disputes, and
the scheduled jobs' per-partner steps (cycle close, dunning)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from aggregates.base import Actor
from aggregates.invoice import Invoice
from aggregates.partner import Partner
from service.commands.base import Command, Services, handles
from service.commands.credit_notes import credit_invoice


@dataclass(frozen=True)
class AddPaymentMethod(Command[tuple[Partner, UUID]]):
    """Answers the partner and the new method's id. `token` is the gateway's card token."""

    partner_id: UUID
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    token: str


@dataclass(frozen=True)
class MakeDefaultPaymentMethod(Command[Partner]):
    partner_id: UUID
    method_id: UUID


@dataclass(frozen=True)
class RemovePaymentMethod(Command[Partner]):
    partner_id: UUID
    method_id: UUID


@dataclass(frozen=True)
class GrantCredit(Command[Partner]):
    partner_id: UUID
    amount: int  # minor units
    reason: str


@dataclass(frozen=True)
class AddDiscount(Command[Partner]):
    partner_id: UUID
    discount_id: str
    kind: str
    value: int | str  # minor units (fixed), or a percent: whole or a two-decimal string
    sub_account_id: UUID | None
    cycles: int | None


@dataclass(frozen=True)
class RemoveDiscount(Command[Partner]):
    partner_id: UUID
    discount_id: str


@dataclass(frozen=True)
class PayInvoice(Command[Invoice]):
    """Charges the balance due on the default card, once: intent, then effect
    (service/commands/billing_operations.py). Never run twice: its handler retries only its
    recording steps."""

    outside_effect = True
    partner_id: UUID
    invoice_id: UUID


@dataclass(frozen=True)
class RefundInvoice(Command[Invoice]):
    partner_id: UUID
    invoice_id: UUID
    amount: int  # minor units
    reason: str


@dataclass(frozen=True)
class OpenDispute(Command[tuple[Invoice, UUID]]):
    """Answers the invoice and the new dispute's id."""

    partner_id: UUID
    invoice_id: UUID
    item_index: int
    reason: str


@dataclass(frozen=True)
class ResolveDispute(Command[Invoice]):
    """Records the resolution and, in the same transaction, its credit or refund."""

    partner_id: UUID
    invoice_id: UUID
    dispute_id: UUID
    resolution: str
    amount: int | None
    reason: str


@dataclass(frozen=True)
class ClosePartnerCycles(Command[list[Invoice]]):
    """Cycle close's step for one partner: an invoice for every period ended by `until`
    that `invoiced` (the run's read of the invoices view) lacks, each charged once. The
    scheduled job catches up once after its run."""

    outside_effect = True
    catches_up = False
    partner_id: UUID
    until: datetime
    invoiced: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class DunInvoice(Command[list[Invoice]]):
    """Dunning's step for one unpaid invoice: settle its open attempt, then charge it when
    its retry is due by `due_by`."""

    outside_effect = True
    catches_up = False
    partner_id: UUID
    invoice_id: UUID
    due_by: datetime


@handles(AddPaymentMethod)
def add_payment_method(s: Services, c: AddPaymentMethod, actor: Actor,
                       now: datetime) -> tuple[Partner, UUID]:
    return s.billing.add_payment_method(partner_id=c.partner_id, actor=actor, at=now,
                                        brand=c.brand, last4=c.last4, exp_month=c.exp_month,
                                        exp_year=c.exp_year, token=c.token)


def _partner_alone(s: Services, partner_id: UUID, decide: Callable[[Partner], None]) -> Partner:
    """A command on the partner's account terms alone: the partner's own rule decides."""
    partner = s.app.partner(partner_id)
    decide(partner)
    s.app.save(partner)
    return partner


@handles(MakeDefaultPaymentMethod)
def make_default_payment_method(s: Services, c: MakeDefaultPaymentMethod, actor: Actor,
                                now: datetime) -> Partner:
    return _partner_alone(s, c.partner_id, lambda p: p.make_default_payment_method(
        method_id=c.method_id, actor=actor, at=now))


@handles(RemovePaymentMethod)
def remove_payment_method(s: Services, c: RemovePaymentMethod, actor: Actor,
                          now: datetime) -> Partner:
    return _partner_alone(s, c.partner_id, lambda p: p.remove_payment_method(
        method_id=c.method_id, actor=actor, at=now))


@handles(GrantCredit)
def grant_credit(s: Services, c: GrantCredit, actor: Actor, now: datetime) -> Partner:
    return _partner_alone(s, c.partner_id, lambda p: p.grant_credit(
        amount=c.amount, reason=c.reason, actor=actor, at=now))


@handles(AddDiscount)
def add_discount(s: Services, c: AddDiscount, actor: Actor, now: datetime) -> Partner:
    if c.sub_account_id is not None:
        s.app.sub_account(c.partner_id, c.sub_account_id)  # 404 for another's or none
    sub = str(c.sub_account_id) if c.sub_account_id else None
    return _partner_alone(s, c.partner_id, lambda p: p.add_discount(
        discount_id=c.discount_id, kind=c.kind, value=c.value, sub_account_id=sub,
        cycles=c.cycles, actor=actor, at=now))


@handles(RemoveDiscount)
def remove_discount(s: Services, c: RemoveDiscount, actor: Actor, now: datetime) -> Partner:
    return _partner_alone(s, c.partner_id, lambda p: p.remove_discount(
        discount_id=c.discount_id, actor=actor, at=now))


@handles(PayInvoice)
def pay_invoice(s: Services, c: PayInvoice, actor: Actor, now: datetime) -> Invoice:
    # The flow reads the clock at each of its recording steps: between intent and
    # effect the gateway call takes its own time.
    return s.billing.attempt_payment(partner_id=c.partner_id, invoice_id=c.invoice_id,
                                     actor=actor)


@handles(RefundInvoice)
def refund_invoice(s: Services, c: RefundInvoice, actor: Actor, now: datetime) -> Invoice:
    invoice = s.billing.invoice(c.partner_id, c.invoice_id)
    invoice.refund(amount=c.amount, reason=c.reason, actor=actor, at=now)
    s.app.save(invoice)
    return invoice


@handles(OpenDispute)
def open_dispute(s: Services, c: OpenDispute, actor: Actor,
                 now: datetime) -> tuple[Invoice, UUID]:
    invoice = s.billing.invoice(c.partner_id, c.invoice_id)
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=c.item_index, reason=c.reason,
                         actor=actor, at=now)
    s.app.save(invoice)
    return invoice, dispute_id


@handles(ResolveDispute)
def resolve_dispute(s: Services, c: ResolveDispute, actor: Actor, now: datetime) -> Invoice:
    invoice = s.billing.invoice(c.partner_id, c.invoice_id)
    invoice.resolve_dispute(dispute_id=c.dispute_id, resolution=c.resolution, amount=c.amount,
                            reason=c.reason, actor=actor, at=now)
    if c.resolution == "credit" and c.amount:
        # A credit note on the disputed item: it reduces what is due while the invoice is
        # unpaid (ending dunning once nothing is), else it goes to the credit balance.
        index = invoice.disputes[c.dispute_id]["item_index"]
        credit_invoice(s, invoice=invoice, credit_note_id=uuid4(), amount=c.amount,
                       items=[{"index": index, "amount": c.amount}], refund=False,
                       reason=f"dispute: {c.reason}", actor=actor, at=now)
        return invoice
    touched: list[Any] = [invoice]
    if c.resolution == "refund" and c.amount:
        invoice.refund(amount=c.amount, reason=f"dispute: {c.reason}", actor=actor, at=now)
    s.app.save(*touched)
    return invoice


@handles(ClosePartnerCycles)
def close_partner_cycles(s: Services, c: ClosePartnerCycles, actor: Actor,
                         now: datetime) -> list[Invoice]:
    return s.billing.close_partner_cycles(c.partner_id, at=c.until, invoiced=c.invoiced)


@handles(DunInvoice)
def dun_invoice(s: Services, c: DunInvoice, actor: Actor, now: datetime) -> list[Invoice]:
    return s.billing.dun(partner_id=c.partner_id, invoice_id=c.invoice_id, at=c.due_by)

"""Billing commands: payment methods, credits, discounts, cycle close, payments, refunds,
disputes.

Cycle close reads the period's line counts from the caught-up `line_day_counts` view and
issues the invoice under a deterministic id, so a second run (or a second scheduler)
finds it issued and does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from aggregates.base import Actor, policy_actor
from aggregates.charges import billing_period, next_period
from aggregates.errors import AlreadyPaid, InvalidTransition, NotFound
from aggregates.invoice import PAST_DUE, Invoice
from aggregates.invoice_draft import Draft
from aggregates.partner import Partner
from aggregates.payments import PaymentGateway
from policies.partner_isolation import PartnerSteps, unguarded
from projections import aggregate_states
from projections.billing import period_draft
from projections.read_model import ReadModel
from projections.times import stored
from service.application import LedgerApplication, retried

CYCLE_CLOSE = policy_actor("cycle_close")
DUNNING = policy_actor("dunning")
NO_METHOD = "no_payment_method"


def invoice_number(partner_id: UUID, period_start: datetime) -> str:
    return f"PL-{partner_id.hex[:8].upper()}-{period_start:%Y%m%d}"


class Billing:
    def __init__(self, *, app: LedgerApplication, read_model: ReadModel,
                 gateway: PaymentGateway, caught_up: Callable[[], None]) -> None:
        self.app = app
        self.read_model = read_model
        self.gateway = gateway
        self.caught_up = caught_up

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    # -- account terms ---------------------------------------------------------------------

    @retried
    def add_payment_method(self, *, partner_id: UUID, actor: Actor,
                           **card: Any) -> tuple[Partner, UUID]:
        partner = self.app.partner(partner_id)
        method_id = uuid4()
        partner.add_payment_method(method_id=method_id, actor=actor, at=self.now, **card)
        self.app.save(partner)
        return partner, method_id

    @retried
    def partner_step(self, *, partner_id: UUID, step: str, actor: Actor,
                     **kwargs: Any) -> Partner:
        """make_default_payment_method, remove_payment_method, grant_credit,
        add_discount, remove_discount."""
        partner = self.app.partner(partner_id)
        getattr(partner, step)(actor=actor, at=self.now, **kwargs)
        self.app.save(partner)
        return partner

    # -- invoices --------------------------------------------------------------------------

    def invoice(self, partner_id: UUID, invoice_id: UUID) -> Invoice:
        return self.app.load(Invoice, invoice_id, partner_id=partner_id)

    def draft(self, partner: Partner, *, start: datetime, end: datetime,
              credit_balance: int | None = None) -> Draft:
        """The invoice the period's counts (as the view has them now) would give."""
        with self.read_model.reading() as sql:
            return period_draft(sql, partner, start=start, end=end,
                                credit_balance=credit_balance)

    def close_cycle(self, *, partner_id: UUID, period_start: datetime,
                    period_end: datetime) -> Invoice:
        """Issues the period's invoice (once) and attempts its payment."""
        invoice_id = Invoice.id_for(partner_id=partner_id, period_start=period_start)
        try:
            return self.app.load(Invoice, invoice_id)
        except NotFound:
            pass
        self.caught_up()
        with contextlib.suppress(IntegrityError):  # another scheduler issued it first
            self._issue(partner_id=partner_id, period_start=period_start, period_end=period_end)
        invoice = self.app.load(Invoice, invoice_id)
        if invoice.status == "open":
            self.attempt_payment(partner_id=partner_id, invoice_id=invoice_id, actor=CYCLE_CLOSE)
        return self.app.load(Invoice, invoice_id)

    def _issue(self, *, partner_id: UUID, period_start: datetime, period_end: datetime) -> None:
        partner = self.app.partner(partner_id)
        at = self.now
        draft = self.draft(partner, start=period_start, end=period_end)
        invoice = Invoice.issue(
            partner_id=partner_id, number=invoice_number(partner_id, period_start),
            period_start=period_start, period_end=period_end, currency=partner.currency,
            items=draft.items, subtotal=draft.subtotal, discounts=draft.discounts,
            discount=draft.discount, credit_applied=draft.credit_applied, total=draft.total,
            amount_due=draft.amount_due, actor=CYCLE_CLOSE, at=at)
        partner.apply_credit(invoice_id=invoice.id, amount=draft.credit_applied,
                             actor=CYCLE_CLOSE, at=at)
        for line in draft.discounts:
            partner.discount_used(discount_id=line["discount_id"], invoice_id=invoice.id,
                                  actor=CYCLE_CLOSE, at=at)
        self.app.save(invoice, partner)

    def close_due_cycles(self, at: datetime, *,
                         steps: PartnerSteps = unguarded) -> list[Invoice]:
        """Every partner's ended periods, from the one it was created in, get an invoice.
        Each partner is one of `steps` (the scheduled job isolates them)."""
        self.caught_up()
        issued: list[Invoice] = []
        with self.read_model.reading() as sql:
            partners = aggregate_states.partner_ids(sql)
            invoiced = {(r["partner_id"], r["period_start"]) for r in sql.all(
                "SELECT partner_id, period_start FROM v_invoices")}
        for pid in partners:
            issued += steps.step(UUID(pid), lambda pid=pid: self._close_partner_cycles(
                pid, at=at, invoiced=invoiced)) or []
        return issued

    def _close_partner_cycles(self, pid: str, *, at: datetime,
                              invoiced: set[tuple[str, str]]) -> list[Invoice]:
        partner = self.app.partner(UUID(pid))
        issued = []
        start, end = billing_period(anchor_day=partner.billing_anchor_day,
                                    containing=partner.created_on)
        while end <= at:
            if (pid, stored(start)) not in invoiced:
                issued.append(self.close_cycle(partner_id=partner.id, period_start=start,
                                               period_end=end))
            start, end = next_period(start)
        return issued

    # -- payments --------------------------------------------------------------------------

    @retried
    def attempt_payment(self, *, partner_id: UUID, invoice_id: UUID, actor: Actor) -> Invoice:
        invoice = self.invoice(partner_id, invoice_id)
        if invoice.status == "paid":
            raise AlreadyPaid(f"invoice {invoice.number} is already paid")
        if invoice.status not in ("open", PAST_DUE):
            raise InvalidTransition(f"cannot pay an invoice that is {invoice.status}")
        partner = self.app.partner(partner_id)
        method = partner.default_payment_method
        at = self.now
        if method is None:
            succeeded, reason = False, NO_METHOD
        else:
            result = self.gateway.charge(method=method, amount=invoice.balance_due,
                                         currency=invoice.currency, at=at)
            succeeded, reason = result.succeeded, result.reason
        invoice.record_payment_attempt(
            payment_method_id=method.id if method else None, succeeded=succeeded,
            reason=reason, amount=invoice.balance_due, actor=actor, at=at)
        self.app.save(invoice)
        return invoice

    def retry_due_payments(self, at: datetime, *,
                           steps: PartnerSteps = unguarded) -> list[Invoice]:
        """Dunning: past-due invoices whose next retry (1, 3, 7 days) has come. Each
        invoice is one of its partner's `steps` (the scheduled job isolates them)."""
        self.caught_up()
        with self.read_model.reading() as sql:
            due = [(UUID(r["partner_id"]), UUID(r["id"])) for r in sql.all(
                "SELECT id, partner_id FROM v_invoices WHERE status = ?", PAST_DUE)]
        retried_ = []
        for partner_id, invoice_id in due:
            retried_ += steps.step(partner_id, lambda p=partner_id, i=invoice_id:
                                   self._retry_if_due(partner_id=p, invoice_id=i, at=at)) or []
        return retried_

    def _retry_if_due(self, *, partner_id: UUID, invoice_id: UUID,
                      at: datetime) -> list[Invoice]:
        invoice = self.invoice(partner_id, invoice_id)
        next_at = invoice.next_retry_at()
        if next_at is None or next_at > at:
            return []
        return [self.attempt_payment(partner_id=partner_id, invoice_id=invoice_id,
                                     actor=DUNNING)]

    @retried
    def refund(self, *, partner_id: UUID, invoice_id: UUID, amount: int, reason: str,
               actor: Actor) -> Invoice:
        invoice = self.invoice(partner_id, invoice_id)
        invoice.refund(amount=amount, reason=reason, actor=actor, at=self.now)
        self.app.save(invoice)
        return invoice

    # -- disputes --------------------------------------------------------------------------

    @retried
    def open_dispute(self, *, partner_id: UUID, invoice_id: UUID, item_index: int, reason: str,
                     actor: Actor) -> tuple[Invoice, UUID]:
        invoice = self.invoice(partner_id, invoice_id)
        dispute_id = uuid4()
        invoice.open_dispute(dispute_id=dispute_id, item_index=item_index, reason=reason,
                             actor=actor, at=self.now)
        self.app.save(invoice)
        return invoice, dispute_id

    @retried
    def resolve_dispute(self, *, partner_id: UUID, invoice_id: UUID, dispute_id: UUID,
                        resolution: str, amount: int | None, reason: str,
                        actor: Actor) -> Invoice:
        """Records the resolution and, in the same transaction, its credit or refund."""
        invoice = self.invoice(partner_id, invoice_id)
        at = self.now
        invoice.resolve_dispute(dispute_id=dispute_id, resolution=resolution, amount=amount,
                                reason=reason, actor=actor, at=at)
        touched: list[Any] = [invoice]
        if resolution == "credit" and amount:
            partner = self.app.partner(partner_id)
            partner.grant_credit(amount=amount, reason="adjustment", actor=actor, at=at)
            touched.append(partner)
        elif resolution == "refund" and amount:
            invoice.refund(amount=amount, reason=f"dispute: {reason}", actor=actor, at=at)
        self.app.save(*touched)
        return invoice

"""The billing routes' answers as pydantic models (see `service.api.answers`): payment
methods, discounts, the billing summary, the upcoming invoice, my status, the invoice and
an item's explanation. The shapes are built by `projections.billing`; these name them.

Items, discounts and taxes of an invoice keep `dict[str, Any]`: their keys follow the
pricing structure and the tax rule in force, and the invoice stores them as issued.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.api.answers import Answer


class Period(BaseModel):
    start: str
    end: str


class PaymentMethod(BaseModel):
    """A card on file; `expires_before_next_billing` only in the billing summary."""

    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    is_default: bool
    expires_before_next_billing: bool | None = None


class CreditBalance(BaseModel):
    credit_balance: int
    currency: str


class Discount(Answer):
    """An active discount: `value` is minor units (amount) or a percent text ("12.5");
    `cycles` null runs until removed."""

    id: str
    kind: str
    value: int | str
    sub_account_id: str | None
    cycles: int | None
    cycles_used: int | None = None


class CardFailure(BaseModel):
    invoice_id: str
    at: str
    reason: str | None


class BillingSummary(BaseModel):
    currency: str
    period: Period
    new_charges: int
    outstanding: int
    credit_balance: int
    card_failures: list[CardFailure]
    next_billing_date: str
    default_payment_method: PaymentMethod | None


class MyStatus(BaseModel):
    line_count: int
    # The plan in force; its fields depend on the pricing structure.
    pricing: dict[str, Any]
    credit_balance: int
    currency: str


class Charges(Answer):
    """The figures an issued invoice and the upcoming one share."""

    period: Period
    # Per-item figures as issued: their keys follow the pricing structure.
    items: list[dict[str, Any]]
    subtotal: int
    discounts: list[dict[str, Any]]
    discount: int
    # `{name, rate, amount, reverse_charge, tax_id, note, lines}` as the tax rule wrote it.
    tax: dict[str, Any] | None
    credit_applied: int
    total: int
    amount_due: int
    currency: str
    credit_notes: list[dict[str, Any]]


class UpcomingInvoice(Charges):
    """The invoice the current period would close into, from today's lines."""

    line_count: int


class Payment(BaseModel):
    at: str
    status: str
    reason: str | None
    amount: int
    payment_method_id: str | None


class Refund(BaseModel):
    at: str
    amount: int
    reason: str | None


class Dispute(Answer):
    id: str
    opened_at: str
    resolved_at: str | None


class Invoice(Charges):
    """`projections.billing.invoice_json`: the one representation of an invoice, read,
    listed, paid, refunded, disputed or voided."""

    id: str
    number: str
    status: str
    amount_paid: int
    amount_refunded: int
    payments: list[Payment]
    refunds: list[Refund]
    disputes: list[Dispute]
    issued_at: str


class DisputeOpened(BaseModel):
    dispute_id: str
    invoice: Invoice


class ItemExplanation(Answer):
    """`projections.billing.explain_item`: why an invoice item costs what it does."""

    invoice_id: str
    # The item as issued, with its `index`.
    item: dict[str, Any]
    period: Period
    days_in_period: int
    pricing: dict[str, Any]
    rule: str
    exact_amount: str
    discounts: list[dict[str, Any]]
    tax: dict[str, Any] | None
    lines: list[dict[str, Any]]
    days: list[dict[str, Any]]
    # Audit events (as the audit trail shows them); their `data` is each event's own.
    events: list[dict[str, Any]]
    events_total: int
    next_cursor: str | None
    pricing_events: list[dict[str, Any]]
    credit_notes: list[dict[str, Any]]

"""The invoice figures: the identities hold for every priced invoice, a figure off by any
amount is refused, and the invoice's figures after credit notes keep them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.base import SYSTEM, LedgerAggregate
from aggregates.invoice import Invoice
from aggregates.invoice_figures import InvoiceFigures

AMOUNTS = st.integers(min_value=0, max_value=10**9)


@st.composite
def priced(draw: st.DrawFn) -> InvoiceFigures:
    """Figures as the cycle close prices them: items, discounts up to the subtotal, a tax
    line per item (or none), and any credit balance."""
    amounts = draw(st.lists(AMOUNTS, min_size=1, max_size=5))
    items = [{"sub_account_id": f"sub-{i}", "name": f"Item {i}", "line_days": i,
              "amount": amount} for i, amount in enumerate(amounts)]
    left = sum(amounts)
    discounts = []
    for i in range(draw(st.integers(min_value=0, max_value=3))):
        amount = draw(st.integers(min_value=0, max_value=left))
        left -= amount
        discounts.append({"discount_id": f"d{i}", "amount": amount})
    tax = None
    if draw(st.booleans()):
        lines = [{"sub_account_id": item["sub_account_id"], "taxable_amount": item["amount"],
                  "amount": draw(AMOUNTS)} for item in items]
        tax = {"name": "VAT", "rate": "20", "reverse_charge": False,
               "amount": sum(line["amount"] for line in lines), "lines": lines}
    return InvoiceFigures.priced(items=items, discounts=discounts, tax=tax,
                                 credit_balance=draw(st.integers(-10**6, 2 * 10**9)))


@given(priced())
def test_priced_figures_keep_the_identities(figures: InvoiceFigures) -> None:
    assert figures.check() == figures
    assert figures.subtotal == sum(item["amount"] for item in figures.items)
    assert figures.discount == sum(line["amount"] for line in figures.discounts)
    assert figures.total == figures.subtotal - figures.discount + figures.tax_amount
    assert 0 <= figures.credit_applied <= figures.total
    assert figures.amount_due == figures.total - figures.credit_applied >= 0
    assert figures.reduced == 0


@given(priced(), st.sampled_from(["subtotal", "discount", "credit_applied", "total",
                                  "amount_due"]),
       st.integers(min_value=-10**6, max_value=10**6).filter(bool))
def test_a_figure_off_by_any_amount_is_refused(figures: InvoiceFigures, name: str,
                                               delta: int) -> None:
    wrong = dataclasses.replace(figures, **{name: getattr(figures, name) + delta})

    with pytest.raises(ValueError):
        wrong.check()


@given(priced(), st.lists(st.integers(min_value=1, max_value=10**9), max_size=3))
def test_the_invoice_keeps_its_figures_as_credit_notes_reduce_what_is_due(
        figures: InvoiceFigures, notes: list[int]) -> None:
    at = datetime(2024, 2, 1, tzinfo=UTC)
    invoice = Invoice.issue(partner_id=UUID(int=1), number="INV-1",
                            period_start=datetime(2024, 1, 1, tzinfo=UTC), period_end=at,
                            currency="USD", figures=figures, actor=SYSTEM, at=at)
    assert invoice.figures == figures
    issued = invoice.pending_events[0]
    assert isinstance(issued, Invoice.Issued) and issued.figures == figures
    for number, amount in enumerate(notes):
        if amount > invoice.total - invoice.credited:
            break
        invoice.issue_credit_note(credit_note_id=uuid4(), number=f"CN-{number}",
                                  amount=amount, items=None, refund=False, reason="fix",
                                  actor=SYSTEM, at=at)

    reduced = sum(note["amount_due_reduced"] for note in invoice.credit_notes)
    assert invoice.figures.reduced == reduced
    assert invoice.amount_due == InvoiceFigures.due_of(
        total=invoice.total, credit_applied=invoice.credit_applied, reduced=reduced)


def test_the_issued_event_stores_exactly_the_figures() -> None:
    """The event's fields are its stored shape; the figures must name the same fields."""
    own = {f.name for f in dataclasses.fields(Invoice.Issued)} - {
        f.name for f in dataclasses.fields(LedgerAggregate.Created)}
    around = {"partner_id", "number", "period_start", "period_end", "currency"}
    assert own - around == set(InvoiceFigures.names())

"""Credit notes and void on the Invoice aggregate (no database): limits, where the amount
goes, settling an unpaid invoice, and the properties that hold for any sequence."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.base import SYSTEM
from aggregates.credit_note import allocate, creditable
from aggregates.errors import (
    CreditNoteTooLarge,
    InvalidInput,
    InvalidTransition,
    PaymentInProgress,
)
from aggregates.invoice import PAID, PAST_DUE, VOID, Invoice
from tests.domain.test_invoice import CARD, ISSUED_AT, SUPPORT, fail, issue, pay

# tests.domain.test_invoice's invoice: items 968 + 2032 + 5032, discount 803, credit
# applied 1000: total 7229, amount due 6229.
TOTAL, DUE, CREDIT_APPLIED = 7229, 6229, 1000
LATER = ISSUED_AT + timedelta(days=2)


def credit(invoice: Invoice, *, amount: int | None = None,
           items: list[dict[str, int]] | None = None, refund: bool = False,
           number: str = "ACME-CN-000001") -> dict[str, int]:
    allocation = invoice.issue_credit_note(
        credit_note_id=uuid4(), number=number, amount=amount, items=items, refund=refund,
        reason="billing error", actor=SUPPORT, at=LATER)
    return allocation.as_dict()


def test_a_credit_note_on_an_unpaid_invoice_reduces_the_amount_due() -> None:
    invoice = issue()
    fail(invoice, ISSUED_AT)

    applied = credit(invoice, amount=1229)

    assert applied == {"amount_due_reduced": 1229, "credit_balance_added": 0, "refunded": 0}
    assert (invoice.amount_due, invoice.balance_due, invoice.status) == (5000, 5000, PAST_DUE)
    assert invoice.next_retry_at() is not None  # still retried, for the smaller balance


def test_crediting_an_unpaid_invoice_in_full_settles_it_and_ends_dunning() -> None:
    invoice = issue()
    fail(invoice, ISSUED_AT)

    applied = credit(invoice)  # neither amount nor items: the whole invoice

    # What was due is cancelled; the credit the invoice had applied returns to the balance.
    assert applied == {"amount_due_reduced": DUE, "credit_balance_added": CREDIT_APPLIED,
                       "refunded": 0}
    assert (invoice.amount_due, invoice.balance_due, invoice.status) == (0, 0, PAID)
    assert invoice.next_retry_at() is None
    assert not invoice.awaiting_first_charge
    with pytest.raises(CreditNoteTooLarge):
        credit(invoice, amount=1)


def test_a_credit_note_on_a_paid_invoice_goes_to_the_balance_or_is_refunded() -> None:
    invoice = issue()
    pay(invoice)

    to_balance = credit(invoice, amount=1000)
    refunded = credit(invoice, amount=2000, refund=True, number="ACME-CN-000002")

    assert to_balance == {"amount_due_reduced": 0, "credit_balance_added": 1000, "refunded": 0}
    assert refunded == {"amount_due_reduced": 0, "credit_balance_added": 0, "refunded": 2000}
    assert (invoice.amount_refunded, invoice.amount_due, invoice.status) == (2000, DUE, PAID)
    assert invoice.refunds[-1]["reason"] == "credit note ACME-CN-000002"


def test_a_refund_never_exceeds_what_was_paid_less_refunds_the_rest_is_credit() -> None:
    invoice = issue()
    pay(invoice)
    invoice.refund(amount=6000, reason="goodwill", actor=SUPPORT, at=LATER)

    applied = credit(invoice, refund=True)

    assert applied == {"amount_due_reduced": 0, "credit_balance_added": TOTAL - 229,
                       "refunded": 229}
    assert invoice.amount_refunded == invoice.amount_paid


def test_credit_notes_per_item_never_exceed_the_item_or_the_total() -> None:
    invoice = issue()
    pay(invoice)

    credit(invoice, items=[{"index": 0, "amount": 968}, {"index": 1, "amount": 32}])

    assert invoice.credit_notes[0]["amount"] == 1000
    with pytest.raises(CreditNoteTooLarge):
        credit(invoice, items=[{"index": 0, "amount": 1}])
    with pytest.raises(CreditNoteTooLarge):
        credit(invoice, amount=TOTAL - 1000 + 1)
    with pytest.raises(InvalidInput):
        credit(invoice, items=[{"index": 3, "amount": 1}])
    with pytest.raises(InvalidInput):
        credit(invoice, items=[{"index": 2, "amount": 1}, {"index": 2, "amount": 1}])
    with pytest.raises(InvalidInput):
        credit(invoice, amount=5, items=[{"index": 2, "amount": 4}])
    assert len(invoice.credit_notes) == 1  # nothing recorded by a refusal


def test_a_void_or_charging_invoice_takes_no_credit_note_and_a_paid_one_is_not_voided(
) -> None:
    void = issue()
    void.void(reason="issued in error", actor=SUPPORT, at=LATER)
    charging = issue()
    charging.start_payment_attempt(attempt_id=uuid4(), payment_method_id=CARD,
                                   charge_by=LATER, actor=SYSTEM, at=ISSUED_AT)
    paid = issue()
    pay(paid)

    assert void.status == VOID
    with pytest.raises(InvalidTransition):
        credit(void)
    with pytest.raises(PaymentInProgress):
        credit(charging)
    with pytest.raises(InvalidTransition):
        paid.void(reason="too late", actor=SUPPORT, at=LATER)


# --- properties --------------------------------------------------------------------------

STEP = st.one_of(
    st.tuples(st.just("note"), st.integers(1, 9000) | st.none(), st.booleans()),
    st.tuples(st.just("items"), st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3000)),
                                         min_size=1, max_size=3, unique_by=lambda t: t[0]),
              st.booleans()),
    st.tuples(st.just("pay"), st.none(), st.booleans()),
    st.tuples(st.just("fail"), st.none(), st.booleans()),
    st.tuples(st.just("refund"), st.integers(1, 9000), st.booleans()),
)


def _step(invoice: Invoice, step: tuple[str, Any, bool], n: int) -> None:
    kind, value, refund = step
    if kind == "pay" and invoice.balance_due:
        pay(invoice)
    elif kind == "fail" and invoice.balance_due:
        fail(invoice, ISSUED_AT)
    elif kind == "refund" and value <= invoice.amount_paid - invoice.amount_refunded:
        invoice.refund(amount=value, reason="goodwill", actor=SUPPORT, at=LATER)
    elif kind in ("note", "items"):
        before = copy.deepcopy(invoice)
        items = [{"index": i, "amount": a} for i, a in value] if kind == "items" else None
        amount = value if kind == "note" else None
        try:
            applied = credit(invoice, amount=amount, items=items, refund=refund,
                             number=f"ACME-CN-{n:06d}")
        except (CreditNoteTooLarge, InvalidTransition):
            assert len(invoice.credit_notes) == len(before.credit_notes)
            return
        # Re-derivation equals issue: the rules applied to the invoice as it stood.
        note = invoice.credit_notes[-1]
        assert allocate(before, note["amount"], refund=refund).as_dict() == applied
        assert sum(applied.values()) == note["amount"] <= creditable(before)


@settings(max_examples=150, deadline=None)
@given(st.lists(STEP, max_size=8))
def test_credit_notes_keep_the_invoice_identities(steps: list[tuple[str, Any, bool]]) -> None:
    invoice = issue()
    for n, step in enumerate(steps, start=1):
        _step(invoice, step, n)
        notes = invoice.credit_notes
        assert sum(note["amount"] for note in notes) <= invoice.total
        for index, item in enumerate(invoice.items):
            assert sum(i["amount"] for note in notes for i in note["items"]
                       if i["index"] == index) <= item["amount"]
        assert invoice.amount_due == (invoice.total - invoice.credit_applied
                                      - sum(note["amount_due_reduced"] for note in notes))
        assert 0 <= invoice.balance_due == (
            0 if invoice.status == PAID else invoice.amount_due - invoice.amount_paid)
        assert invoice.amount_refunded <= invoice.amount_paid
        assert (invoice.status == PAID) == (invoice.amount_due == invoice.amount_paid)

"""The Invoice: issue, payment attempts and dunning, refunds, voiding, disputes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from hypothesis import given
from hypothesis import strategies as st

from aggregates.base import SYSTEM, Actor
from aggregates.errors import (
    AlreadyPaid,
    DomainError,
    DuplicateId,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RefundTooLarge,
)
from aggregates.invoice import Invoice
from aggregates.invoice_figures import InvoiceFigures

SUPPORT = Actor(key_id="key-support", role="support")
PARTNER_ID = UUID("00000000-0000-0000-0000-0000000000aa")
PERIOD_START = datetime(2024, 1, 1, tzinfo=UTC)
PERIOD_END = datetime(2024, 2, 1, tzinfo=UTC)
ISSUED_AT = datetime(2024, 2, 1, 0, 5, tzinfo=UTC)
CARD = UUID("00000000-0000-0000-0000-0000000000cc")

# SPEC's worked example, with a 10% discount and 1000 of credit.
ITEMS = [
    {"sub_account_id": None, "name": "Unassigned", "line_days": 10, "amount": 968},
    {"sub_account_id": "sub-recruiting", "name": "Recruiting", "line_days": 21, "amount": 2032},
    {"sub_account_id": "sub-sales", "name": "Sales", "line_days": 52, "amount": 5032},
]
FIGURES: dict[str, Any] = {
    "items": ITEMS, "subtotal": 8032, "discounts": [{"discount_id": "welcome", "amount": 803}],
    "discount": 803, "credit_applied": 1000, "total": 7229, "amount_due": 6229,
}


def issue(**overrides: Any) -> Invoice:
    """An invoice issued with FIGURES and the fields around them, any overridden."""
    fields: dict[str, Any] = {
        "partner_id": PARTNER_ID, "number": "INV-2024-0001", "period_start": PERIOD_START,
        "period_end": PERIOD_END, "currency": "USD",
    }
    figures = dict(FIGURES)
    for name, value in overrides.items():
        (figures if name in InvoiceFigures.names() else fields)[name] = value
    return Invoice.issue(**fields, figures=InvoiceFigures(**figures), actor=SYSTEM,
                         at=ISSUED_AT)


def fail(invoice: Invoice, at: datetime, reason: str = "card_declined") -> None:
    invoice.record_payment_attempt(payment_method_id=CARD, succeeded=False, reason=reason,
                                   amount=invoice.balance_due, actor=SYSTEM, at=at)


def pay(invoice: Invoice, at: datetime = ISSUED_AT) -> None:
    invoice.record_payment_attempt(payment_method_id=CARD, succeeded=True, reason=None,
                                   amount=invoice.balance_due, actor=SYSTEM, at=at)


def paid_invoice() -> Invoice:
    invoice = issue()
    pay(invoice)
    return invoice


# --- issue -----------------------------------------------------------------------------


def test_the_invoice_id_is_derived_from_partner_and_period() -> None:
    first = Invoice.id_for(partner_id=PARTNER_ID, period_start=PERIOD_START)

    again = Invoice.id_for(partner_id=PARTNER_ID, period_start=PERIOD_START)

    assert first == again
    assert first != Invoice.id_for(partner_id=PARTNER_ID, period_start=PERIOD_END)
    assert first != Invoice.id_for(partner_id=uuid4(), period_start=PERIOD_START)


def test_an_issued_invoice_is_open_with_its_figures() -> None:
    invoice = issue()

    assert invoice.id == Invoice.id_for(partner_id=PARTNER_ID, period_start=PERIOD_START)
    assert invoice.status == "open"
    assert invoice.partner_id == PARTNER_ID
    assert invoice.items == ITEMS
    assert (invoice.subtotal, invoice.discount, invoice.credit_applied) == (8032, 803, 1000)
    assert (invoice.total, invoice.amount_due, invoice.balance_due) == (7229, 6229, 6229)
    assert invoice.paid_at is None
    assert invoice.pending_events[0].actor_id == "system"


def test_an_invoice_with_nothing_due_is_paid_on_issue() -> None:
    invoice = issue(credit_applied=7229, amount_due=0)

    assert invoice.status == "paid"
    assert invoice.paid_at == ISSUED_AT
    assert invoice.balance_due == 0


def test_the_issued_items_do_not_change_when_the_caller_changes_its_list() -> None:
    items = [dict(item) for item in ITEMS]
    invoice = issue(items=items)

    items[0]["amount"] = 1

    assert invoice.items == ITEMS


@pytest.mark.parametrize(
    "bad",
    [
        {"subtotal": 8033, "total": 7230, "amount_due": 6230},
        {"total": 7228, "amount_due": 6228},
        {"amount_due": 6228},
        {"discount": 804, "total": 7228, "amount_due": 6228},
        {"credit_applied": 7230, "amount_due": -1},
        {"items": [{**ITEMS[0], "amount": -968}, *ITEMS[1:]], "subtotal": 6096,
         "total": 5293, "amount_due": 4293},
        {"items": [{"name": "x", "amount": 8032}]},
        {"items": [{**ITEMS[0], "amount": 968.0}, *ITEMS[1:]]},
        {"items": [{**ITEMS[0], "line_days": True}, *ITEMS[1:]]},
        {"discounts": [{"discount_id": "", "amount": 803}]},
        {"number": ""},
        {"currency": "usd"},
        {"period_end": PERIOD_START},
        {"period_start": datetime(2024, 1, 1)},
    ],
)
def test_inconsistent_figures_are_a_programming_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        issue(**bad)


# --- payments --------------------------------------------------------------------------


def test_a_successful_payment_pays_the_invoice() -> None:
    invoice = issue()
    at = ISSUED_AT + timedelta(minutes=1)

    pay(invoice, at)

    assert invoice.status == "paid"
    assert invoice.amount_paid == 6229
    assert invoice.paid_at == at
    assert invoice.payments == [{"at": at, "status": "succeeded", "reason": None,
                                 "amount": 6229, "payment_method_id": CARD}]
    assert isinstance(invoice.pending_events[-1], Invoice.PaymentSucceeded)


def test_a_failed_payment_makes_the_invoice_past_due() -> None:
    invoice = issue()

    fail(invoice, ISSUED_AT, "card_expired")

    assert invoice.status == "past_due"
    assert invoice.amount_paid == 0
    assert invoice.failures == [(ISSUED_AT, "card_expired")]
    assert invoice.payments[-1]["status"] == "failed"
    assert isinstance(invoice.pending_events[-1], Invoice.PaymentFailed)


def test_a_past_due_invoice_is_paid_by_a_successful_retry() -> None:
    invoice = issue()
    fail(invoice, ISSUED_AT)

    pay(invoice, ISSUED_AT + timedelta(days=1))

    assert invoice.status == "paid"
    assert [p["status"] for p in invoice.payments] == ["failed", "succeeded"]


def test_a_paid_invoice_refuses_another_payment_attempt_and_records_nothing() -> None:
    invoice = paid_invoice()
    recorded = len(invoice.pending_events)

    with pytest.raises(AlreadyPaid) as refused:
        invoice.record_payment_attempt(payment_method_id=CARD, succeeded=True, reason=None,
                                       amount=6229, actor=SYSTEM, at=ISSUED_AT)

    assert refused.value.code == "invoice_already_paid"
    assert refused.value.status == 409
    assert len(invoice.pending_events) == recorded
    assert invoice.amount_paid == 6229


def test_a_void_invoice_refuses_a_payment_attempt() -> None:
    invoice = issue()
    invoice.void(reason="issued in error", actor=SUPPORT, at=ISSUED_AT)

    with pytest.raises(InvalidTransition):
        invoice.record_payment_attempt(payment_method_id=CARD, succeeded=True, reason=None,
                                       amount=6229, actor=SYSTEM, at=ISSUED_AT)


def test_a_payment_attempt_charges_exactly_the_balance_due() -> None:
    invoice = issue()

    with pytest.raises(ValueError):
        invoice.record_payment_attempt(payment_method_id=CARD, succeeded=True, reason=None,
                                       amount=100, actor=SYSTEM, at=ISSUED_AT)


def test_a_failed_attempt_needs_the_gateways_reason() -> None:
    invoice = issue()

    with pytest.raises(ValueError):
        invoice.record_payment_attempt(payment_method_id=CARD, succeeded=False, reason=None,
                                       amount=6229, actor=SYSTEM, at=ISSUED_AT)


# --- dunning ---------------------------------------------------------------------------


def test_an_open_or_paid_invoice_has_no_retry_scheduled() -> None:
    invoice = issue()
    open_retry = invoice.next_retry_at()

    pay(invoice)

    assert open_retry is None
    assert invoice.next_retry_at() is None


def test_failed_payments_are_retried_1_3_and_7_days_after_the_first_failure() -> None:
    invoice = issue()
    first = ISSUED_AT
    scheduled = []

    fail(invoice, first)
    scheduled.append(invoice.next_retry_at())
    fail(invoice, first + timedelta(days=1))
    scheduled.append(invoice.next_retry_at())
    fail(invoice, first + timedelta(days=3))
    scheduled.append(invoice.next_retry_at())
    fail(invoice, first + timedelta(days=7))

    assert scheduled == [first + timedelta(days=d) for d in (1, 3, 7)]
    assert invoice.next_retry_at() is None
    assert invoice.status == "past_due"


@given(
    delays=st.lists(st.integers(min_value=0, max_value=10 * 24 * 3600), min_size=1, max_size=6)
)
def test_the_dunning_schedule_counts_from_the_first_failure(delays: list[int]) -> None:
    invoice = issue()
    first = ISSUED_AT + timedelta(seconds=delays[0])
    at = first
    schedule = {1: timedelta(days=1), 2: timedelta(days=3), 3: timedelta(days=7)}

    for count, delay in enumerate(delays, start=1):
        if count > 1:
            at += timedelta(seconds=delay)
        fail(invoice, at)

        expected = first + schedule[count] if count in schedule else None
        assert invoice.next_retry_at() == expected


# --- refunds ---------------------------------------------------------------------------


def test_a_paid_invoice_can_be_refunded_in_parts_up_to_what_was_paid() -> None:
    invoice = paid_invoice()

    invoice.refund(amount=229, reason="overcharge", actor=SUPPORT, at=ISSUED_AT)
    invoice.refund(amount=6000, reason="closed account", actor=SUPPORT, at=ISSUED_AT)

    assert invoice.amount_refunded == 6229
    assert [r["amount"] for r in invoice.refunds] == [229, 6000]
    assert invoice.pending_events[-1].actor_id == "key-support"


def test_a_refund_above_what_remains_refundable_is_refused_and_records_nothing() -> None:
    invoice = paid_invoice()
    invoice.refund(amount=6000, reason="closed account", actor=SUPPORT, at=ISSUED_AT)
    recorded = len(invoice.pending_events)

    with pytest.raises(RefundTooLarge) as refused:
        invoice.refund(amount=230, reason="again", actor=SUPPORT, at=ISSUED_AT)

    assert refused.value.code == "refund_exceeds_paid"
    assert len(invoice.pending_events) == recorded


def test_an_unpaid_invoice_has_nothing_to_refund() -> None:
    invoice = issue()

    with pytest.raises(RefundTooLarge):
        invoice.refund(amount=1, reason="mistake", actor=SUPPORT, at=ISSUED_AT)


@pytest.mark.parametrize(("amount", "reason"), [(0, "x"), (-5, "x"), (True, "x"), (10, " ")])
def test_a_refund_needs_a_positive_amount_and_a_reason(amount: Any, reason: str) -> None:
    invoice = paid_invoice()

    with pytest.raises(InvalidInput):
        invoice.refund(amount=amount, reason=reason, actor=SUPPORT, at=ISSUED_AT)


@given(
    paid=st.booleans(),
    amounts=st.lists(st.integers(min_value=-100, max_value=8000), max_size=20),
)
def test_refunds_never_exceed_payments_under_any_sequence(paid: bool, amounts: list[int]) -> None:
    invoice = issue()
    if paid:
        pay(invoice)

    for amount in amounts:
        refundable = invoice.amount_paid - invoice.amount_refunded
        if 0 < amount <= refundable:
            invoice.refund(amount=amount, reason="support", actor=SUPPORT, at=ISSUED_AT)
        else:
            with pytest.raises(DomainError):
                invoice.refund(amount=amount, reason="support", actor=SUPPORT, at=ISSUED_AT)
        assert 0 <= invoice.amount_refunded <= invoice.amount_paid

    assert invoice.amount_refunded == sum(r["amount"] for r in invoice.refunds)


# --- void ------------------------------------------------------------------------------


@pytest.mark.parametrize("failed_first", [False, True])
def test_an_open_or_past_due_invoice_can_be_voided(failed_first: bool) -> None:
    invoice = issue()
    if failed_first:
        fail(invoice, ISSUED_AT)

    invoice.void(reason="issued in error", actor=SUPPORT, at=ISSUED_AT)

    assert invoice.status == "void"
    assert invoice.void_reason == "issued in error"
    assert invoice.balance_due == 0
    assert invoice.next_retry_at() is None


def test_a_paid_invoice_cannot_be_voided_and_nothing_is_recorded() -> None:
    invoice = paid_invoice()
    recorded = len(invoice.pending_events)

    with pytest.raises(InvalidTransition):
        invoice.void(reason="too late", actor=SUPPORT, at=ISSUED_AT)

    assert len(invoice.pending_events) == recorded
    assert invoice.status == "paid"


def test_a_void_invoice_cannot_be_voided_again() -> None:
    invoice = issue()
    invoice.void(reason="issued in error", actor=SUPPORT, at=ISSUED_AT)

    with pytest.raises(InvalidTransition):
        invoice.void(reason="again", actor=SUPPORT, at=ISSUED_AT)


# --- disputes --------------------------------------------------------------------------


def test_support_opens_a_dispute_on_an_item() -> None:
    invoice = paid_invoice()
    dispute_id = uuid4()

    invoice.open_dispute(dispute_id=dispute_id, item_index=2, reason="line deleted earlier",
                         actor=SUPPORT, at=ISSUED_AT)

    dispute = invoice.disputes[dispute_id]
    assert (dispute["item_index"], dispute["status"]) == (2, "open")
    assert dispute["reason"] == "line deleted earlier"
    assert dispute["opened_at"] == ISSUED_AT
    assert invoice.pending_events[-1].actor_role == "support"


@pytest.mark.parametrize("item_index", [-1, 3, True, "0"])
def test_a_dispute_needs_an_existing_item_and_nothing_is_recorded(item_index: Any) -> None:
    invoice = paid_invoice()
    recorded = len(invoice.pending_events)

    with pytest.raises(InvalidInput):
        invoice.open_dispute(dispute_id=uuid4(), item_index=item_index, reason="wrong",
                             actor=SUPPORT, at=ISSUED_AT)

    assert len(invoice.pending_events) == recorded


def test_an_item_has_at_most_one_open_dispute() -> None:
    invoice = paid_invoice()
    invoice.open_dispute(dispute_id=uuid4(), item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)

    with pytest.raises(InvalidTransition):
        invoice.open_dispute(dispute_id=uuid4(), item_index=0, reason="still wrong",
                             actor=SUPPORT, at=ISSUED_AT)


def test_a_dispute_id_cannot_be_opened_twice() -> None:
    invoice = paid_invoice()
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)

    with pytest.raises(DuplicateId):
        invoice.open_dispute(dispute_id=dispute_id, item_index=1, reason="wrong",
                             actor=SUPPORT, at=ISSUED_AT)


def test_a_void_invoice_cannot_be_disputed() -> None:
    invoice = issue()
    invoice.void(reason="issued in error", actor=SUPPORT, at=ISSUED_AT)

    with pytest.raises(InvalidTransition):
        invoice.open_dispute(dispute_id=uuid4(), item_index=0, reason="wrong", actor=SUPPORT,
                             at=ISSUED_AT)


@pytest.mark.parametrize(("resolution", "amount"), [("credit", 500), ("refund", 968),
                                                    ("no_change", None)])
def test_a_dispute_is_resolved_with_a_credit_a_refund_or_no_change(
    resolution: str, amount: int | None,
) -> None:
    invoice = paid_invoice()
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)
    resolved_at = ISSUED_AT + timedelta(days=2)

    invoice.resolve_dispute(dispute_id=dispute_id, resolution=resolution, amount=amount,
                            reason="checked the log", actor=SUPPORT, at=resolved_at)

    dispute = invoice.disputes[dispute_id]
    assert dispute["status"] == "resolved"
    assert (dispute["resolution"], dispute["amount"]) == (resolution, amount)
    assert (dispute["resolution_reason"], dispute["resolved_at"]) == ("checked the log",
                                                                      resolved_at)
    assert invoice.pending_events[-1].amount == amount
    # The resolution only records; the refund itself is the caller's next step.
    assert invoice.amount_refunded == 0


def test_resolving_an_unknown_dispute_is_not_found() -> None:
    invoice = paid_invoice()

    with pytest.raises(NotFound):
        invoice.resolve_dispute(dispute_id=uuid4(), resolution="no_change", amount=None,
                                reason="nothing", actor=SUPPORT, at=ISSUED_AT)


def test_a_dispute_cannot_be_resolved_twice_and_nothing_is_recorded() -> None:
    invoice = paid_invoice()
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)
    invoice.resolve_dispute(dispute_id=dispute_id, resolution="credit", amount=100,
                            reason="goodwill", actor=SUPPORT, at=ISSUED_AT)
    recorded = len(invoice.pending_events)

    with pytest.raises(InvalidTransition):
        invoice.resolve_dispute(dispute_id=dispute_id, resolution="credit", amount=100,
                                reason="again", actor=SUPPORT, at=ISSUED_AT)

    assert len(invoice.pending_events) == recorded


def test_a_resolved_dispute_frees_its_item_for_a_new_dispute() -> None:
    invoice = paid_invoice()
    first = uuid4()
    invoice.open_dispute(dispute_id=first, item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)
    invoice.resolve_dispute(dispute_id=first, resolution="no_change", amount=None,
                            reason="correct as billed", actor=SUPPORT, at=ISSUED_AT)

    invoice.open_dispute(dispute_id=uuid4(), item_index=0, reason="new evidence",
                         actor=SUPPORT, at=ISSUED_AT)

    assert [d["status"] for d in invoice.disputes.values()] == ["resolved", "open"]


@pytest.mark.parametrize(
    ("resolution", "amount"),
    [("refund_everything", 100), ("credit", None), ("credit", 0), ("credit", 969),
     ("refund", -1), ("no_change", 100), ("credit", True)],
)
def test_a_resolution_must_fit_the_disputed_item(resolution: str, amount: Any) -> None:
    invoice = paid_invoice()
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)
    recorded = len(invoice.pending_events)

    with pytest.raises(InvalidInput):
        invoice.resolve_dispute(dispute_id=dispute_id, resolution=resolution, amount=amount,
                                reason="decided", actor=SUPPORT, at=ISSUED_AT)

    assert len(invoice.pending_events) == recorded


def test_a_refund_resolution_cannot_exceed_what_remains_refundable() -> None:
    invoice = issue()
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=0, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)

    with pytest.raises(RefundTooLarge):
        invoice.resolve_dispute(dispute_id=dispute_id, resolution="refund", amount=500,
                                reason="decided", actor=SUPPORT, at=ISSUED_AT)

    assert invoice.disputes[dispute_id]["status"] == "open"


# --- the state survives storage --------------------------------------------------------


class _Store(Application[UUID]):
    """An in-memory event store (no database) to replay and snapshot aggregates."""


def test_an_invoice_replayed_or_restored_from_a_snapshot_has_the_same_state() -> None:
    invoice = issue()
    fail(invoice, ISSUED_AT)
    dispute_id = uuid4()
    invoice.open_dispute(dispute_id=dispute_id, item_index=1, reason="wrong", actor=SUPPORT,
                         at=ISSUED_AT)
    store = _Store(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    store.save(invoice)

    replayed = store.repository.get(invoice.id)
    store.take_snapshot(invoice.id)
    restored = store.repository.get(invoice.id)

    for copy in (replayed, restored):
        assert copy.status == "past_due"
        assert copy.items == ITEMS
        assert copy.failures == invoice.failures
        assert copy.next_retry_at() == ISSUED_AT + timedelta(days=1)
        assert copy.disputes == invoice.disputes
        assert copy.period_start == PERIOD_START

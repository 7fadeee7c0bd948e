"""Payment attempts on the Invoice (intent, then the gateway's answer) and the simulated
gateway's books: one charge per attempt id, answers looked up by id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from aggregates.base import SYSTEM
from aggregates.errors import (
    AlreadyPaid,
    DuplicateId,
    InvalidTransition,
    NotFound,
    PaymentInProgress,
)
from aggregates.invoice import Invoice
from aggregates.partner import PaymentMethod
from aggregates.payments import GatewayCharge, PaymentResult, SimulatedGateway
from projections import aggregate_states
from tests.domain.test_invoice import CARD, ISSUED_AT, fail, issue

LATER = ISSUED_AT + timedelta(hours=2)
CHARGE_BY = datetime(2030, 1, 1, tzinfo=UTC)


def start(invoice: Invoice, at: datetime = ISSUED_AT) -> UUID:
    attempt_id = uuid4()
    invoice.start_payment_attempt(attempt_id=attempt_id, payment_method_id=CARD,
                                  charge_by=CHARGE_BY, actor=SYSTEM, at=at)
    return attempt_id


def answer(invoice: Invoice, attempt_id: UUID, *, succeeded: bool = True,
           reason: str | None = None, at: datetime = LATER) -> bool:
    return invoice.record_attempt_outcome(attempt_id=attempt_id, succeeded=succeeded,
                                          reason=reason, actor=SYSTEM, at=at)


def card(token: str = "tok_visa") -> PaymentMethod:
    return PaymentMethod(id=uuid4(), brand="visa", last4="4242", exp_month=12, exp_year=2030,
                         token=token)


# --- the invoice's attempts -------------------------------------------------------------


def test_an_attempt_is_recorded_before_the_charge_and_its_success_pays_the_invoice() -> None:
    invoice = issue()
    attempt_id = start(invoice)
    under_way = invoice.open_attempt

    answer(invoice, attempt_id)

    assert under_way is not None and under_way["amount"] == 6229
    assert invoice.status == "paid"
    assert invoice.amount_paid == 6229
    assert invoice.open_attempt is None
    # The payment is dated when the card was charged (the attempt), not when recorded.
    assert invoice.payments == [{"at": ISSUED_AT, "status": "succeeded", "reason": None,
                                 "amount": 6229, "payment_method_id": CARD,
                                 "attempt_id": attempt_id}]
    assert [type(e).__name__ for e in invoice.pending_events[-2:]] == [
        "PaymentAttemptStarted", "PaymentSucceeded"]


def test_a_declined_attempt_makes_the_invoice_past_due_and_starts_the_dunning_schedule() -> None:
    invoice = issue()
    attempt_id = start(invoice)

    answer(invoice, attempt_id, succeeded=False, reason="card_declined")

    assert invoice.status == "past_due"
    assert invoice.failures == [(ISSUED_AT, "card_declined")]
    assert invoice.next_retry_at() == ISSUED_AT + timedelta(days=1)


@pytest.mark.parametrize("second", ["attempt", "direct", "void"])
def test_while_an_attempt_is_open_no_other_payment_or_void_is_recorded(second: str) -> None:
    invoice = issue()
    start(invoice)
    recorded = len(invoice.pending_events)

    with pytest.raises(PaymentInProgress) as refused:
        if second == "attempt":
            start(invoice)
        elif second == "direct":
            invoice.record_payment_attempt(payment_method_id=CARD, succeeded=True, reason=None,
                                           amount=6229, actor=SYSTEM, at=LATER)
        else:
            invoice.void(reason="issued in error", actor=SYSTEM, at=LATER)

    assert refused.value.code == "payment_in_progress"
    assert len(invoice.pending_events) == recorded


def test_the_same_answer_recorded_twice_is_recorded_once() -> None:
    invoice = issue()
    attempt_id = start(invoice)
    first = answer(invoice, attempt_id, succeeded=False, reason="card_declined")
    recorded = len(invoice.pending_events)

    again = answer(invoice, attempt_id, succeeded=False, reason="card_declined")

    assert (first, again) == (True, False)
    assert len(invoice.pending_events) == recorded
    assert len(invoice.failures) == 1


def test_an_answer_that_contradicts_the_recorded_one_is_refused() -> None:
    invoice = issue()
    attempt_id = start(invoice)
    answer(invoice, attempt_id, succeeded=False, reason="card_declined")

    with pytest.raises(InvalidTransition):
        answer(invoice, attempt_id, succeeded=True)

    assert invoice.status == "past_due"


def test_an_answer_for_an_unknown_attempt_is_refused() -> None:
    invoice = issue()

    with pytest.raises(NotFound):
        answer(invoice, uuid4())


def test_a_paid_invoice_starts_no_attempt_and_an_attempt_id_is_used_once() -> None:
    invoice = issue()
    attempt_id = start(invoice)
    answer(invoice, attempt_id, succeeded=False, reason="card_declined")

    with pytest.raises(DuplicateId):
        invoice.start_payment_attempt(attempt_id=attempt_id, payment_method_id=CARD,
                                      charge_by=CHARGE_BY, actor=SYSTEM, at=LATER)
    answer(invoice, start(invoice, LATER))
    with pytest.raises(AlreadyPaid):
        start(invoice, LATER)


def test_an_abandoned_attempt_charged_nothing_and_leaves_the_invoice_awaiting_a_charge() -> None:
    invoice = issue()
    attempt_id = start(invoice)
    waiting_while_open = invoice.awaiting_first_charge

    invoice.abandon_payment_attempt(attempt_id=attempt_id, actor=SYSTEM, at=LATER)

    assert waiting_while_open is False
    assert invoice.awaiting_first_charge is True
    assert (invoice.status, invoice.payments, invoice.amount_paid) == ("open", [], 0)
    assert invoice.attempts[str(attempt_id)]["status"] == "abandoned"
    with pytest.raises(InvalidTransition):
        invoice.abandon_payment_attempt(attempt_id=attempt_id, actor=SYSTEM, at=LATER)


def test_a_past_due_invoice_keeps_its_schedule_when_a_retry_is_abandoned() -> None:
    invoice = issue()
    fail(invoice, ISSUED_AT)
    attempt_id = start(invoice, ISSUED_AT + timedelta(days=1))

    invoice.abandon_payment_attempt(attempt_id=attempt_id, actor=SYSTEM, at=LATER)

    assert invoice.status == "past_due"
    assert invoice.awaiting_first_charge is False
    assert invoice.next_retry_at() == ISSUED_AT + timedelta(days=1)


class _Store(Application[UUID]):
    """An in-memory event store."""


def test_attempts_survive_replay() -> None:
    invoice = issue()
    answer(invoice, start(invoice), succeeded=False, reason="card_declined")
    open_id = start(invoice, LATER)
    store = _Store()
    store.save(invoice)

    replayed = store.repository.get(invoice.id)

    assert replayed.attempts == invoice.attempts
    assert replayed.open_attempt is not None and replayed.open_attempt["id"] == open_id
    assert replayed.payments == invoice.payments


def test_payments_recorded_before_attempts_existed_read_back_without_an_attempt() -> None:
    invoice = issue()
    invoice.record_payment_attempt(payment_method_id=CARD, succeeded=True, reason=None,
                                   amount=6229, actor=SYSTEM, at=ISSUED_AT)
    store = _Store()
    event = invoice.pending_events[-1]
    stored = store.mapper.to_stored_event(event)
    state = store.mapper.transcoder.decode(stored.state)
    # The event as version 1 stored it: no class version, no attempt id.
    old_state = {k: v for k, v in state.items() if k not in ("class_version", "attempt_id")}
    old = StoredEvent(originator_id=stored.originator_id,
                      originator_version=stored.originator_version, topic=stored.topic,
                      state=store.mapper.transcoder.encode(old_state))

    read_back: Any = store.mapper.to_domain_event(old)

    assert read_back.attempt_id is None
    assert read_back.amount == 6229


def test_a_view_state_kept_before_attempts_existed_takes_new_attempts() -> None:
    invoice = issue()
    old = aggregate_states.decode(Invoice, aggregate_states.encode(invoice))
    del old.__dict__["attempts"]  # as the view stored it before attempts existed
    attempt_id = start(invoice)

    invoice.pending_events[-1].mutate(old)

    assert dict(Invoice.attempts) == {}
    assert old.open_attempt is not None and old.open_attempt["id"] == attempt_id


# --- the simulated gateway --------------------------------------------------------------


def test_one_attempt_id_is_charged_once_and_answers_the_same() -> None:
    gateway = SimulatedGateway()
    attempt_id, method = uuid4(), card()

    first = gateway.charge(attempt_id=attempt_id, method=method, amount=6229, currency="USD",
                           at=ISSUED_AT)
    again = gateway.charge(attempt_id=attempt_id, method=method, amount=6229, currency="USD",
                           at=LATER)

    assert first == again == PaymentResult(succeeded=True)
    assert [(c.attempt_id, c.outcome, c.at) for c in gateway.charges()] == [
        (attempt_id, "succeeded", ISSUED_AT)]


def test_an_attempt_id_reused_with_another_amount_is_an_error_not_a_charge() -> None:
    gateway = SimulatedGateway()
    attempt_id, method = uuid4(), card()
    gateway.charge(attempt_id=attempt_id, method=method, amount=6229, currency="USD",
                   at=ISSUED_AT)

    with pytest.raises(ValueError):
        gateway.charge(attempt_id=attempt_id, method=method, amount=100, currency="USD",
                       at=ISSUED_AT)

    assert len(gateway.charges()) == 1


def test_the_gateway_answers_lookups_by_attempt_id() -> None:
    gateway = SimulatedGateway()
    declined = uuid4()
    gateway.charge(attempt_id=declined, method=card("tok_decline"), amount=6229,
                   currency="USD", at=ISSUED_AT)

    assert gateway.lookup(declined) == PaymentResult(succeeded=False, reason="card_declined")
    assert gateway.lookup(uuid4()) is None


def test_the_books_hold_no_card_token_and_window_by_the_attempts_time() -> None:
    gateway = SimulatedGateway()
    for at in (ISSUED_AT, LATER):
        gateway.charge(attempt_id=uuid4(), method=card("tok_secret_4242"), amount=6229,
                       currency="USD", at=at)

    inside = gateway.charges(since=LATER)
    before = gateway.charges(until=LATER)

    assert [c.at for c in inside] == [LATER]
    assert [c.at for c in before] == [ISSUED_AT]
    assert "tok_secret" not in repr(gateway.charges())
    assert {f for f in GatewayCharge.__dataclass_fields__} == {
        "attempt_id", "amount", "currency", "succeeded", "reason", "at"}


def test_a_gateway_needs_an_attempt_id_and_a_non_negative_delay() -> None:
    with pytest.raises(ValueError):
        SimulatedGateway(delay=timedelta(seconds=-1))
    with pytest.raises(ValueError):
        SimulatedGateway().charge(attempt_id="not-an-id", method=card(),
                                  amount=6229, currency="USD", at=ISSUED_AT)

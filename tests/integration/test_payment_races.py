"""Payments as intent, then effect, under honest races, on both backends: however many
payers ask at once (pays, dunning), a card is charged once, and what the gateway took
is what the ledger recorded; an answer lost between charge and record is settled by
asking the gateway, never by charging again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from aggregates.errors import PaymentInProgress
from service.api.app import create_app
from service.commands.billing import GrantCredit
from service.ops.reconciliation import reconcile
from service.runtime.bootstrap import Ledger
from tests.conftest import start_ledger
from tests.integration.payments import (
    BILLING,
    RETRY_DUE,
    SUPPORT,
    AnswerLost,
    NeverReached,
    past_due_invoice,
    race,
)

PAYERS = 6
MATCHED_ONE = {"gateway_charges": 1, "recorded_payments": 1, "unmatched_charges": [],
               "unmatched_payments": []}


@pytest.fixture
def slow_gateway_ledger(database_url: str) -> Iterator[Ledger]:
    # Each charge takes half a second, so every payer arrives while the first is charging.
    service = start_ledger(database_url, gateway_delay_ms=500)
    yield service
    service.close()


def test_concurrent_pays_and_a_dunning_run_charge_the_card_once(
    slow_gateway_ledger: Ledger,
) -> None:
    ledger = slow_gateway_ledger
    pid, iid = past_due_invoice(ledger)
    ledger.manual_clock.set(RETRY_DUE)
    pays = [lambda: ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid,
                                                   actor=BILLING)] * PAYERS

    outcomes = race([*pays, lambda: ledger.billing.retry_due_payments(RETRY_DUE)])

    invoice = ledger.billing.invoice(pid, iid)
    assert invoice.status == "paid"
    assert [p["status"] for p in invoice.payments] == ["failed", "succeeded"]
    assert [c.outcome for c in ledger.billing.gateway.charges()] == ["declined", "succeeded"]
    assert reconcile(ledger) == MATCHED_ONE
    # The payers overlapped (some met the attempt under way), and each got an answer the
    # contract allows: paid, in progress, or already paid.
    assert outcomes["payment_in_progress"] >= 1
    assert set(outcomes) <= {"paid", "payment_in_progress", "invoice_already_paid", "applied"}


def test_a_declined_card_is_recorded_once_however_many_payers_race(
    slow_gateway_ledger: Ledger,
) -> None:
    ledger = slow_gateway_ledger
    pid, iid = past_due_invoice(ledger, fix_card=False)
    ledger.manual_clock.set(RETRY_DUE)
    pays = [lambda: ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid,
                                                   actor=BILLING)] * PAYERS

    outcomes = race([*pays, lambda: ledger.billing.retry_due_payments(RETRY_DUE)])

    invoice = ledger.billing.invoice(pid, iid)
    assert invoice.status == "past_due"
    assert [reason for _, reason in invoice.failures] == ["card_declined", "card_declined"]
    assert [c.outcome for c in ledger.billing.gateway.charges()] == ["declined", "declined"]
    assert reconcile(ledger) == {"gateway_charges": 0, "recorded_payments": 0,
                                 "unmatched_charges": [], "unmatched_payments": []}
    assert set(outcomes) <= {"past_due", "payment_in_progress", "applied"}


def test_an_answer_lost_after_the_charge_is_settled_by_the_next_dunning_run(
    ledger: Ledger,
) -> None:
    pid, iid = past_due_invoice(ledger)
    gateway = ledger.billing.gateway
    ledger.billing.gateway = AnswerLost(gateway)

    with pytest.raises(PaymentInProgress):
        ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)
    ledger.billing.gateway = gateway
    attempt = ledger.billing.invoice(pid, iid).open_attempt
    before = reconcile(ledger)
    ledger.scheduler.advance(RETRY_DUE)

    assert attempt is not None
    assert [(c["attempt_id"], c["recorded"]) for c in before["unmatched_charges"]] == [
        (str(attempt["id"]), "open")]
    invoice = ledger.billing.invoice(pid, iid)
    assert invoice.status == "paid"
    assert invoice.payments[-1]["attempt_id"] == attempt["id"]
    assert invoice.payments[-1]["at"] == attempt["at"]  # the charge's time, not the record's
    assert [c.outcome for c in gateway.charges()] == ["declined", "succeeded"]
    assert reconcile(ledger) == MATCHED_ONE


def test_an_answer_lost_after_the_charge_is_settled_on_restart(database_url: str) -> None:
    first = start_ledger(database_url)
    pid, iid = past_due_invoice(first)
    gateway = first.billing.gateway
    first.billing.gateway = AnswerLost(gateway)
    with pytest.raises(PaymentInProgress):
        first.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)
    first.close()

    second = start_ledger(database_url)
    try:
        with TestClient(create_app(second, run_scheduler=False)):
            pass  # the service's start settles what the crash left open
        invoice = second.billing.invoice(pid, iid)
        assert invoice.status == "paid"
        assert [c.outcome for c in second.billing.gateway.charges()] == [
            "declined", "succeeded"]
        assert reconcile(second) == MATCHED_ONE
    finally:
        second.close()


def test_a_payer_that_meets_a_settled_answer_answers_the_paid_invoice(ledger: Ledger) -> None:
    pid, iid = past_due_invoice(ledger)
    gateway = ledger.billing.gateway
    ledger.billing.gateway = AnswerLost(gateway)
    with pytest.raises(PaymentInProgress):
        ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)
    ledger.billing.gateway = gateway

    answer = ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)

    assert answer.status == "paid"
    assert len(gateway.charges()) == 2  # the decline at the cycle close, this one charge
    assert reconcile(ledger) == MATCHED_ONE


def test_an_attempt_the_gateway_never_saw_is_abandoned_after_its_lease_and_charged_anew(
    database_url: str,
) -> None:
    ledger = start_ledger(database_url, payment_lease_seconds=0.05)
    try:
        pid, iid = past_due_invoice(ledger)
        gateway = ledger.billing.gateway
        ledger.billing.gateway = NeverReached(gateway)
        with pytest.raises(PaymentInProgress):
            ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)
        ledger.billing.gateway = gateway
        held = ledger.billing.settle_open_attempts()  # within its lease: left open
        time.sleep(0.2)  # past the time to call and the time for the call

        ledger.scheduler.advance(RETRY_DUE)

        invoice = ledger.billing.invoice(pid, iid)
        assert held == 0
        assert invoice.status == "paid"
        # The cycle close's declined attempt, the one never made, the one that paid.
        assert [a["status"] for a in invoice.attempts.values()] == [
            "failed", "abandoned", "succeeded"]
        assert [c.outcome for c in gateway.charges()] == ["declined", "succeeded"]
        assert reconcile(ledger) == MATCHED_ONE
    finally:
        ledger.close()


def test_twelve_concurrent_credit_grants_on_one_partner_all_succeed(ledger: Ledger) -> None:
    partner = ledger.app.create_partner(name="Credits", currency="USD", billing_anchor_day=1,
                                        pricing={"structure": "standard", "unit_amount": 100},
                                        actor=SUPPORT)
    grants = [lambda amount=amount: ledger.execute(GrantCredit(
        partner_id=partner.id, amount=amount, reason="goodwill"), actor=SUPPORT)
        for amount in range(101, 113)]

    outcomes = race(grants)

    assert outcomes == {"applied": 12}
    assert ledger.app.partner(partner.id).credit_balance == sum(range(101, 113))


def test_reconciliation_windows_by_the_attempts_time(ledger: Ledger) -> None:
    pid, iid = past_due_invoice(ledger)
    ledger.billing.attempt_payment(partner_id=pid, invoice_id=iid, actor=BILLING)
    paid_at = ledger.billing.invoice(pid, iid).paid_at
    assert paid_at is not None

    inside = reconcile(ledger, since=paid_at, until=datetime(2027, 1, 1, tzinfo=UTC))
    before = reconcile(ledger, until=paid_at)

    assert inside == MATCHED_ONE
    assert before == {"gateway_charges": 0, "recorded_payments": 0, "unmatched_charges": [],
                      "unmatched_payments": []}

"""Set-ups and gateway stand-ins for the payment tests: a past-due invoice, and gateways
that lose their answer (a crash or a dropped connection around the charge)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor
from aggregates.errors import DomainError
from aggregates.invoice import Invoice
from aggregates.payments import PaymentGateway, PaymentResult
from service.commands.billing import MakeDefaultPaymentMethod
from service.runtime.bootstrap import Ledger

OPS = Actor(key_id="ops", role="operations")
BILLING = Actor(key_id="billing", role="billing")
SUPPORT = Actor(key_id="support", role="platform:support")
GOOD_CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
             "token": "tok_visa"}
DECLINING_CARD = {**GOOD_CARD, "last4": "0002", "token": "tok_decline"}
PERIOD_START = datetime(2026, 1, 1, tzinfo=UTC)
CYCLE_CLOSED = datetime(2026, 2, 1, 6, tzinfo=UTC)
# The first failure is at 2026-02-01T00:00; dunning's first retry falls due a day later.
RETRY_DUE = datetime(2026, 2, 2, 0, 30, tzinfo=UTC)


def past_due_invoice(ledger: Ledger, *, fix_card: bool = True) -> tuple[UUID, UUID]:
    """A partner whose first invoice (one line, January) was declined at the cycle close;
    with `fix_card`, a good card is then made the default. Answers (partner, invoice)."""
    partner = ledger.app.create_partner(name="Payer", currency="USD", billing_anchor_day=1,
                                        pricing={"structure": "standard", "unit_amount": 3000},
                                        actor=OPS)
    ledger.app.provision_line(partner_id=partner.id, phone_number=None, sub_account_id=None,
                              actor=OPS)
    ledger.billing.add_payment_method(partner_id=partner.id, actor=BILLING, **DECLINING_CARD)
    ledger.scheduler.advance(CYCLE_CLOSED)
    invoice_id = Invoice.id_for(partner_id=partner.id, period_start=PERIOD_START)
    assert ledger.billing.invoice(partner.id, invoice_id).status == "past_due"
    if fix_card:
        _, good = ledger.billing.add_payment_method(partner_id=partner.id, actor=BILLING,
                                                    **GOOD_CARD)
        ledger.execute(MakeDefaultPaymentMethod(partner_id=partner.id, method_id=good),
                       actor=BILLING)
    return partner.id, invoice_id


def outcome(call: Callable[[], Any]) -> str:
    """A command's answer as a word: the invoice's status, or the refusal's code."""
    try:
        answer = call()
    except DomainError as e:
        return e.code
    return answer.status if isinstance(answer, Invoice) else "applied"


def race(calls: list[Callable[[], Any]]) -> Counter[str]:
    """Runs the calls at once (each on its own thread, released together)."""
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], Any]) -> str:
        barrier.wait()
        return outcome(call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return Counter(pool.map(released, calls))


class AnswerLost:
    """The gateway charges, then its answer never arrives: what a payer that crashed
    right after the charge leaves behind (the charge made, its outcome not recorded)."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner

    def charge(self, **charge: Any) -> PaymentResult:
        self.inner.charge(**charge)
        raise ConnectionError("the connection dropped before the gateway answered")

    def lookup(self, attempt_id: UUID) -> PaymentResult | None:
        return self.inner.lookup(attempt_id)

    def charges(self, **window: Any) -> Any:
        return self.inner.charges(**window)


class NeverReached(AnswerLost):
    """The payer stops after recording the attempt, before the gateway is called."""

    def charge(self, **charge: Any) -> PaymentResult:
        raise ConnectionError("the payer stopped before calling the gateway")

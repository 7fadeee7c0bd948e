"""The `Invoice` aggregate: one partner's bill for one period, its payments, refunds,
voiding and disputes, and the dunning schedule of its failed payments.

Statuses: `open` (issued, awaiting payment), `paid`, `past_due` (a payment failed; it is
retried on a schedule) and `void`. The invoice's figures are computed by the caller
(`aggregates.charges`, `aggregates.discounts`) and checked here for consistency only.

A card payment is an intent, then an effect: `start_payment_attempt` records the attempt
(its id is the gateway's idempotency key) before the gateway is called, and
`record_attempt_outcome` records what the gateway answered for it. While an attempt is
open no other one starts, so concurrent payers charge the card once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate, stable_id
from aggregates.bounds import check_amount, is_int
from aggregates.credit_note import Allocation, plan
from aggregates.errors import (
    AlreadyPaid,
    DuplicateId,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PaymentInProgress,
    RefundTooLarge,
)
from aggregates.invoice_figures import InvoiceFigures
from aggregates.money import CURRENCIES
from aggregates.text import clean_text

OPEN = "open"
PAID = "paid"
PAST_DUE = "past_due"
VOID = "void"
STATUSES = (OPEN, PAID, PAST_DUE, VOID)

SUCCEEDED = "succeeded"
FAILED = "failed"
ATTEMPT_OPEN = "open"
# An attempt the gateway never saw, closed after its lease: nothing was charged.
ABANDONED = "abandoned"

CREDIT = "credit"
REFUND = "refund"
NO_CHANGE = "no_change"
RESOLUTIONS = (CREDIT, REFUND, NO_CHANGE)

# SPEC: a failed payment is retried 1, 3 and 7 days after the failure.
RETRY_DELAYS = (timedelta(days=1), timedelta(days=3), timedelta(days=7))

# The attempts of an invoice recorded before attempts were (see `Invoice.attempts`).
NO_ATTEMPTS: Mapping[str, dict[str, Any]] = MappingProxyType({})


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def _reason(value: object, what: str = "reason") -> str:
    return clean_text(value, what=what)


class Invoice(LedgerAggregate):
    class Issued(LedgerAggregate.Created):
        """The invoice issued: who for, which period, and its figures (`figures`).

        Written out rather than inherited from `InvoiceFigures`: this is the stored shape,
        field names and order as every stored `Issued` has them (the order is the stored
        JSON's and the audit trail's); tests/domain/test_invoice_figures.py checks that
        the figures' names are these."""

        partner_id: UUID
        number: str
        period_start: datetime
        period_end: datetime
        currency: str
        items: list[dict[str, Any]]
        subtotal: int
        discounts: list[dict[str, Any]]
        discount: int
        credit_applied: int
        total: int
        amount_due: int
        # Invoices issued before tax existed carry none (the default, read back as None).
        tax: dict[str, Any] | None = None

        @property
        def figures(self) -> InvoiceFigures:
            return InvoiceFigures.of(self)

        def apply(self, invoice: Invoice) -> None:
            invoice._take(self.figures)

    class PaymentAttemptStarted(LedgerAggregate.Event):
        """The intent: an attempt to charge `amount` to the method, recorded before the
        gateway is called. `charge_by` is a wall-clock deadline (not the service clock,
        which a test may move by days): the payer calls the gateway only before it, so
        an attempt the gateway has not seen by `charge_by` plus the lease never will be."""

        attempt_id: UUID
        payment_method_id: UUID
        amount: int
        charge_by: datetime

        def apply(self, invoice: Invoice) -> None:
            invoice.attempts = {**invoice.attempts, str(self.attempt_id): {
                "id": self.attempt_id, "at": self.timestamp, "amount": self.amount,
                "payment_method_id": self.payment_method_id, "charge_by": self.charge_by,
                "status": ATTEMPT_OPEN, "reason": None,
            }}

    class PaymentSucceeded(LedgerAggregate.Event):
        """`attempt_id` names the attempt whose charge succeeded; None for payments
        recorded before attempts were (version 1 of the event)."""

        class_version = 2

        payment_method_id: UUID | None
        amount: int
        attempt_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["attempt_id"] = None

        def apply(self, invoice: Invoice) -> None:
            invoice.status = PAID
            invoice.amount_paid += self.amount
            invoice.payments.append(invoice._payment(
                self.attempt_id, at=self.timestamp, status=SUCCEEDED, reason=None,
                amount=self.amount, payment_method_id=self.payment_method_id))

    class PaymentFailed(LedgerAggregate.Event):
        """`attempt_id` names the declined attempt; None when no charge was attempted (no
        payment method) and for failures recorded before attempts were (version 1)."""

        class_version = 2

        payment_method_id: UUID | None
        amount: int
        reason: str
        attempt_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["attempt_id"] = None

        def apply(self, invoice: Invoice) -> None:
            invoice.status = PAST_DUE
            invoice.payments.append(invoice._payment(
                self.attempt_id, at=self.timestamp, status=FAILED, reason=self.reason,
                amount=self.amount, payment_method_id=self.payment_method_id))

    class PaymentAttemptAbandoned(LedgerAggregate.Event):
        """An attempt the gateway had no record of once its lease was over: nothing was
        charged, so it is closed without a payment or a failure."""

        attempt_id: UUID

        def apply(self, invoice: Invoice) -> None:
            invoice._closed_attempt_at(self.attempt_id, ABANDONED, None)

    class Refunded(LedgerAggregate.Event):
        amount: int
        reason: str

        def apply(self, invoice: Invoice) -> None:
            invoice.amount_refunded += self.amount
            invoice.refunds.append(
                {"at": self.timestamp, "amount": self.amount, "reason": self.reason}
            )

    class Voided(LedgerAggregate.Event):
        reason: str

        def apply(self, invoice: Invoice) -> None:
            invoice.status = VOID
            invoice.void_reason = self.reason

    class DisputeOpened(LedgerAggregate.Event):
        dispute_id: UUID
        item_index: int
        reason: str

        def apply(self, invoice: Invoice) -> None:
            invoice._disputes[str(self.dispute_id)] = {
                "id": self.dispute_id, "item_index": self.item_index, "reason": self.reason,
                "opened_at": self.timestamp, "status": "open", "resolution": None,
                "amount": None, "resolution_reason": None, "resolved_at": None,
            }

    class DisputeResolved(LedgerAggregate.Event):
        """`amount` is the credit or refund granted; None for `no_change`."""

        dispute_id: UUID
        resolution: str
        amount: int | None
        reason: str

        def apply(self, invoice: Invoice) -> None:
            invoice._disputes[str(self.dispute_id)].update({
                "status": "resolved", "resolution": self.resolution, "amount": self.amount,
                "resolution_reason": self.reason, "resolved_at": self.timestamp,
            })

    class CreditNoteIssued(LedgerAggregate.Event):
        """A credit note against this invoice (aggregates/credit_note.py): `amount`,
        per-item `items` ([{index, amount}], empty for an amount on the whole invoice), and
        where it went: the amount due reduced, the partner's credit balance (recorded by
        the partner's `CreditNoteNumbered` in the same transaction), a refund."""

        credit_note_id: UUID
        number: str
        amount: int
        items: list[dict[str, int]]
        reason: str
        refund: bool
        amount_due_reduced: int
        credit_balance_added: int
        refunded: int

        def apply(self, invoice: Invoice) -> None:
            invoice.credit_notes = [*invoice.credit_notes, {
                "id": self.credit_note_id, "number": self.number, "amount": self.amount,
                "items": [dict(item) for item in self.items], "reason": self.reason,
                "refund": self.refund, "amount_due_reduced": self.amount_due_reduced,
                "credit_balance_added": self.credit_balance_added,
                "refunded": self.refunded, "issued_at": self.timestamp,
                "actor_id": self.actor_id, "actor_role": self.actor_role,
            }]
            invoice.amount_due -= self.amount_due_reduced
            if self.refunded:
                invoice.amount_refunded += self.refunded
                invoice.refunds.append({"at": self.timestamp, "amount": self.refunded,
                                        "reason": f"credit note {self.number}"})
            if invoice.status in (OPEN, PAST_DUE) and invoice.amount_due == invoice.amount_paid:
                # Nothing left due: settled by the credit note, never charged again.
                invoice.status = PAID

    # States kept before credit notes existed read this (events replace it, never change
    # it in place).
    credit_notes: Sequence[dict[str, Any]] = ()

    # States kept before attempts were recorded (views store the aggregate's state) have
    # no `attempts`: they read this empty mapping. Events replace the mapping, never
    # change it in place, so it is never shared.
    attempts = NO_ATTEMPTS

    if TYPE_CHECKING:
        # The figures as the invoice holds them: flat attributes (the views keep the
        # aggregate's attributes as its state), set from `InvoiceFigures` by `_take`;
        # `amount_due` is what is due now, less what credit notes reduced.
        items: list[dict[str, Any]]
        subtotal: int
        discounts: list[dict[str, Any]]
        discount: int
        tax: dict[str, Any] | None
        credit_applied: int
        total: int
        amount_due: int

    def __init__(self, partner_id: UUID, number: str, period_start: datetime,
                 period_end: datetime, currency: str) -> None:
        # The figures are the `Issued` event's too: its `apply` gives them (`_take`).
        self.partner_id = partner_id
        self.number = number
        self.period_start = period_start
        self.period_end = period_end
        self.currency = currency
        self.status = OPEN
        self.amount_paid = 0
        self.amount_refunded = 0
        self.payments: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.void_reason: str | None = None
        # Keyed by str(id): a snapshot is JSON, whose object keys are strings.
        self._disputes: dict[str, dict[str, Any]] = {}
        self.attempts = {}

    def _take(self, figures: InvoiceFigures) -> None:
        vars(self).update(figures.as_dict())
        if figures.amount_due == 0:
            self.status = PAID

    @property
    def figures(self) -> InvoiceFigures:
        """The invoice's figures now: as issued, `amount_due` less what credit notes
        reduced (`figures.reduced`)."""
        return InvoiceFigures.of(self)

    @staticmethod
    def id_for(*, partner_id: UUID, period_start: datetime) -> UUID:
        return stable_id("invoice", partner_id, period_start.isoformat())

    @classmethod
    def issue(cls, *, partner_id: UUID, number: str, period_start: datetime,
              period_end: datetime, currency: str, figures: InvoiceFigures, actor: Actor,
              at: datetime) -> Invoice:
        """Issue the invoice of `partner_id` for `[period_start, period_end)`.

        The figures must keep their identities (`InvoiceFigures.check`); a mismatch is a
        bug in the caller, so it raises `ValueError`. An invoice with nothing due is paid
        on issue.
        """
        if not isinstance(number, str) or not number:
            raise ValueError("number must be a non-empty string")
        if _aware(period_start, "period_start") >= _aware(period_end, "period_end"):
            raise ValueError("period_start must come before period_end")
        if currency not in CURRENCIES:
            raise ValueError(f"currency {currency!r} is not an accepted ISO 4217 code")
        return cls._start(
            cls.Issued, id=cls.id_for(partner_id=partner_id, period_start=period_start),
            actor=actor, at=at, partner_id=partner_id, number=number,
            period_start=period_start, period_end=period_end, currency=currency,
            **figures.check().as_dict())

    # -- payments --------------------------------------------------------------------------

    @property
    def failures(self) -> list[tuple[datetime, str]]:
        """Each failed attempt's time and the gateway's reason, oldest first."""
        return [(payment["at"], payment["reason"]) for payment in self.payments
                if payment["status"] == FAILED]

    @property
    def paid_at(self) -> datetime | None:
        """When the invoice became paid: its successful payment, or its issue if nothing
        was due."""
        if self.status != PAID:
            return None
        for payment in reversed(self.payments):
            if payment["status"] == SUCCEEDED:
                return payment["at"]
        return self.created_on

    @property
    def balance_due(self) -> int:
        """What is still to pay: the amount due less what was paid; 0 once paid or void."""
        if self.status in (PAID, VOID):
            return 0
        return self.amount_due - self.amount_paid

    @property
    def open_attempt(self) -> dict[str, Any] | None:
        """The payment attempt under way (recorded, its outcome not yet), or None."""
        for attempt in self.attempts.values():
            if attempt["status"] == ATTEMPT_OPEN:
                return dict(attempt)
        return None

    @property
    def awaiting_first_charge(self) -> bool:
        """Open, nothing under way: its first charge never happened (the cycle close
        stopped before it, or the attempt was abandoned). Dunning charges it."""
        return self.status == OPEN and self.open_attempt is None

    def _closed_attempt_at(self, attempt_id: UUID, status: str,
                           reason: str | None) -> datetime:
        """Closes the attempt (an event's apply); answers the time it was made."""
        key = str(attempt_id)
        attempt = {**self.attempts[key], "status": status, "reason": reason}
        self.attempts = {**self.attempts, key: attempt}
        at: datetime = attempt["at"]
        return at

    def _payment(self, attempt_id: UUID | None, *, at: datetime, status: str,
                 reason: str | None, amount: int,
                 payment_method_id: UUID | None) -> dict[str, Any]:
        """A payment's entry (an event's apply). One that settles an attempt closes it,
        carries its id and is dated when the attempt was made: the card was charged then,
        however late the answer was recorded."""
        entry: dict[str, Any] = {"at": at, "status": status, "reason": reason,
                                 "amount": amount, "payment_method_id": payment_method_id}
        if attempt_id is not None:
            entry["at"] = self._closed_attempt_at(attempt_id, status, reason)
            entry["attempt_id"] = attempt_id
        return entry

    def _payable(self) -> None:
        if self.status == PAID:
            raise AlreadyPaid(f"invoice {self.number} is already paid")
        if self.status == VOID:
            raise InvalidTransition(f"invoice {self.number} is void")
        if self.open_attempt is not None:
            raise PaymentInProgress(f"a payment of invoice {self.number} is under way")

    def record_payment_attempt(self, *, payment_method_id: UUID | None, succeeded: bool,
                               reason: str | None, amount: int, actor: Actor,
                               at: datetime) -> None:
        """Record one charge of the balance due made without an attempt of its own (the
        gateway is not called, e.g. there is no payment method): a success pays the
        invoice, a failure (with its `reason`) makes it past due."""
        self._payable()
        if not is_int(amount) or amount != self.balance_due:
            raise ValueError(f"a payment attempt charges the balance due {self.balance_due}, "
                             f"not {amount!r}")
        if succeeded:
            self._trigger(self.PaymentSucceeded, actor=actor, at=at,
                          payment_method_id=payment_method_id, amount=amount, attempt_id=None)
            return
        if not isinstance(reason, str) or not reason:
            raise ValueError("a failed payment attempt needs the gateway's reason")
        self._trigger(self.PaymentFailed, actor=actor, at=at,
                      payment_method_id=payment_method_id, amount=amount, reason=reason,
                      attempt_id=None)

    def start_payment_attempt(self, *, attempt_id: UUID, payment_method_id: UUID,
                              charge_by: datetime, actor: Actor, at: datetime) -> None:
        """Record the intent to charge the balance due, before the gateway is called.
        Refused while another attempt is open (`payment_in_progress`)."""
        self._payable()
        if not isinstance(attempt_id, UUID) or not isinstance(payment_method_id, UUID):
            raise ValueError("an attempt needs its id and the payment method's id")
        if str(attempt_id) in self.attempts:
            raise DuplicateId(f"payment attempt {attempt_id} already exists")
        self._trigger(self.PaymentAttemptStarted, actor=actor, at=at, attempt_id=attempt_id,
                      payment_method_id=payment_method_id, amount=self.balance_due,
                      charge_by=_aware(charge_by, "charge_by"))

    def record_attempt_outcome(self, *, attempt_id: UUID, succeeded: bool,
                               reason: str | None, actor: Actor, at: datetime) -> bool:
        """Record the gateway's answer for an open attempt; False (nothing recorded) when
        that same answer is recorded already: the payer and a resolver asking the
        gateway may both bring it."""
        attempt = self.attempts.get(str(attempt_id))
        if attempt is None:
            raise NotFound(f"invoice {self.number} has no payment attempt {attempt_id}")
        outcome = SUCCEEDED if succeeded else FAILED
        if attempt["status"] != ATTEMPT_OPEN:
            if attempt["status"] == outcome and (succeeded or attempt["reason"] == reason):
                return False
            # The gateway's books and ours disagree: reconciliation reports it.
            raise InvalidTransition(f"payment attempt {attempt_id} is {attempt['status']}; "
                                    f"the gateway answered {outcome}")
        if succeeded:
            self._trigger(self.PaymentSucceeded, actor=actor, at=at,
                          payment_method_id=attempt["payment_method_id"],
                          amount=attempt["amount"], attempt_id=attempt_id)
            return True
        if not isinstance(reason, str) or not reason:
            raise ValueError("a declined attempt needs the gateway's reason")
        self._trigger(self.PaymentFailed, actor=actor, at=at,
                      payment_method_id=attempt["payment_method_id"],
                      amount=attempt["amount"], reason=reason, attempt_id=attempt_id)
        return True

    def abandon_payment_attempt(self, *, attempt_id: UUID, actor: Actor,
                                at: datetime) -> None:
        """Close an open attempt the gateway never saw (the caller checked, after the
        attempt's lease): nothing was charged, nothing is paid or failed."""
        attempt = self.attempts.get(str(attempt_id))
        if attempt is None:
            raise NotFound(f"invoice {self.number} has no payment attempt {attempt_id}")
        if attempt["status"] != ATTEMPT_OPEN:
            raise InvalidTransition(f"payment attempt {attempt_id} is {attempt['status']}")
        self._trigger(self.PaymentAttemptAbandoned, actor=actor, at=at, attempt_id=attempt_id)

    def next_retry_at(self) -> datetime | None:
        """When dunning should next charge a past-due invoice, or None.

        The retries are counted from the first failure, not from the latest: after the
        k-th consecutive failure (k = 1, 2, 3) the next attempt is due at first failure
        + 1, 3 and 7 days respectively, which is SPEC's "retried 1, 3 and 7 days after
        the failure". After the 4th failure (all three retries failed) there is no next
        retry: the invoice stays past due and the caller raises an alert. Not past due:
        None.
        """
        failures = self.failures
        if self.status != PAST_DUE or not failures:
            return None
        count = len(failures)
        if count > len(RETRY_DELAYS):
            return None
        first_failure_at = failures[0][0]
        return first_failure_at + RETRY_DELAYS[count - 1]

    def refund(self, *, amount: int, reason: str, actor: Actor, at: datetime) -> None:
        """Return money paid on this invoice; never more than paid less earlier refunds."""
        check_amount(amount, "refund amount", positive=True)
        reason = _reason(reason)
        refundable = self.amount_paid - self.amount_refunded
        if amount > refundable:
            raise RefundTooLarge(
                f"cannot refund {amount}: {refundable} of invoice {self.number} is refundable"
            )
        self._trigger(self.Refunded, actor=actor, at=at, amount=amount, reason=reason)

    def void(self, *, reason: str, actor: Actor, at: datetime) -> None:
        """Cancel an unpaid invoice. Giving back credit it applied is the caller's step."""
        if self.status not in (OPEN, PAST_DUE) or self.amount_paid:
            raise InvalidTransition(f"cannot void an invoice that is {self.status}")
        if self.open_attempt is not None:
            # The charge under way may succeed: the invoice would be void and paid.
            raise PaymentInProgress(f"a payment of invoice {self.number} is under way")
        self._trigger(self.Voided, actor=actor, at=at, reason=_reason(reason))

    # -- credit notes ----------------------------------------------------------------------

    @property
    def credited(self) -> int:
        """What credit notes credited on this invoice."""
        return sum(note["amount"] for note in self.credit_notes)

    def plan_credit_note(self, *, amount: int | None, items: Sequence[Mapping[str, Any]] | None,
                         refund: bool) -> tuple[int, list[dict[str, int]], Allocation]:
        """The credit note asked for, checked (aggregates/credit_note.py), not recorded:
        its amount, items and where it would go."""
        if self.status == VOID:
            raise InvalidTransition(f"invoice {self.number} is void")
        if self.open_attempt is not None:
            # The charge under way may succeed for the amount due before this note.
            raise PaymentInProgress(f"a payment of invoice {self.number} is under way")
        checked = plan(self, amount=amount, items=items, refund=bool(refund))
        return checked.amount, checked.items, checked.allocation

    def issue_credit_note(self, *, credit_note_id: UUID, number: str, amount: int | None,
                          items: Sequence[Mapping[str, Any]] | None, refund: bool,
                          reason: str, actor: Actor, at: datetime) -> Allocation:
        """Issue credit note `number`; answers where its amount went. The caller counts it
        on the partner (its number, and the credit balance part) in the same save."""
        if not isinstance(number, str) or not number:
            raise ValueError("number must be a non-empty string")
        if any(note["id"] == credit_note_id for note in self.credit_notes):
            raise DuplicateId(f"credit note {credit_note_id} already exists")
        total, checked, allocation = self.plan_credit_note(amount=amount, items=items,
                                                           refund=refund)
        self._trigger(self.CreditNoteIssued, actor=actor, at=at,
                      credit_note_id=credit_note_id, number=number, amount=total,
                      items=checked, reason=_reason(reason), refund=bool(refund),
                      **allocation.as_dict())
        return allocation

    # -- disputes --------------------------------------------------------------------------

    @property
    def disputes(self) -> dict[UUID, dict[str, Any]]:
        """Each dispute's state, in the order opened."""
        return {entry["id"]: dict(entry) for entry in self._disputes.values()}

    def open_dispute(self, *, dispute_id: UUID, item_index: int, reason: str, actor: Actor,
                     at: datetime) -> None:
        """Dispute one item (by its index in `items`); an item has one open dispute at most."""
        if self.status == VOID:
            raise InvalidTransition(f"invoice {self.number} is void")
        if not is_int(item_index) or not 0 <= item_index < len(self.items):
            raise InvalidInput(f"invoice {self.number} has no item {item_index!r}")
        reason = _reason(reason)
        if str(dispute_id) in self._disputes:
            raise DuplicateId(f"dispute {dispute_id} already exists")
        if any(entry["item_index"] == item_index and entry["status"] == "open"
               for entry in self._disputes.values()):
            raise InvalidTransition(f"item {item_index} already has an open dispute")
        self._trigger(self.DisputeOpened, actor=actor, at=at, dispute_id=dispute_id,
                      item_index=item_index, reason=reason)

    def resolve_dispute(self, *, dispute_id: UUID, resolution: str, amount: int | None,
                        reason: str, actor: Actor, at: datetime) -> None:
        """Record how a dispute ends: a credit or a refund of `amount` (at most the item's
        amount), or no change (`amount` None).

        Only the resolution is recorded here: the caller grants the credit on the
        `Partner`, or calls `refund`, as its own step.
        """
        entry = self._disputes.get(str(dispute_id))
        if entry is None:
            raise NotFound(f"dispute {dispute_id} not found")
        if entry["status"] != "open":
            raise InvalidTransition(f"dispute {dispute_id} is already resolved")
        if resolution not in RESOLUTIONS:
            raise InvalidInput(
                f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}"
            )
        if resolution == NO_CHANGE:
            if amount is not None:
                raise InvalidInput("a no_change resolution takes no amount")
        else:
            item_amount = self.items[entry["item_index"]]["amount"]
            if not is_int(amount) or not 0 < amount <= item_amount:
                raise InvalidInput(
                    f"a {resolution} must be a positive integer up to the item's "
                    f"{item_amount}, got {amount!r}"
                )
            refundable = self.amount_paid - self.amount_refunded
            if resolution == REFUND and amount > refundable:
                raise RefundTooLarge(
                    f"cannot refund {amount}: {refundable} of invoice {self.number} "
                    "is refundable"
                )
        self._trigger(self.DisputeResolved, actor=actor, at=at, dispute_id=dispute_id,
                      resolution=resolution, amount=amount, reason=_reason(reason))

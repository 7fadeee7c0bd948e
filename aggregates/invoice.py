"""The `Invoice` aggregate: one partner's bill for one period, its payments, refunds,
voiding and disputes, and the dunning schedule of its failed payments.

Statuses: `open` (issued, awaiting payment), `paid`, `past_due` (a payment failed; it is
retried on a schedule) and `void`. The invoice's figures are computed by the caller
(`aggregates.charges`, `aggregates.discounts`) and checked here for consistency only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeGuard
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate, stable_id
from aggregates.bounds import check_amount
from aggregates.errors import (
    AlreadyPaid,
    DuplicateId,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RefundTooLarge,
)
from aggregates.money import CURRENCIES
from aggregates.text import clean_text

OPEN = "open"
PAID = "paid"
PAST_DUE = "past_due"
VOID = "void"
STATUSES = (OPEN, PAID, PAST_DUE, VOID)

SUCCEEDED = "succeeded"
FAILED = "failed"

CREDIT = "credit"
REFUND = "refund"
NO_CHANGE = "no_change"
RESOLUTIONS = (CREDIT, REFUND, NO_CHANGE)

# SPEC: a failed payment is retried 1, 3 and 7 days after the failure.
RETRY_DELAYS = (timedelta(days=1), timedelta(days=3), timedelta(days=7))

_ITEM_KEYS = {"sub_account_id", "name", "line_days", "amount"}
_DISCOUNT_KEYS = {"discount_id", "amount"}


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int, but `true` is never an amount.
    return isinstance(value, int) and not isinstance(value, bool)


def _minor_units(value: object, what: str) -> int:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def _reason(value: object, what: str = "reason") -> str:
    return clean_text(value, what=what)


def _check_items(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or set(item) != _ITEM_KEYS:
            raise ValueError(f"item {position} must have exactly {sorted(_ITEM_KEYS)}")
        sub_account_id = item["sub_account_id"]
        if sub_account_id is not None and (not isinstance(sub_account_id, str)
                                           or not sub_account_id):
            raise ValueError(f"item {position} sub_account_id must be a string or None")
        if not isinstance(item["name"], str) or not item["name"]:
            raise ValueError(f"item {position} name must be a non-empty string")
        checked.append({
            "sub_account_id": sub_account_id,
            "name": item["name"],
            "line_days": _minor_units(item["line_days"], f"item {position} line_days"),
            "amount": _minor_units(item["amount"], f"item {position} amount"),
        })
    return checked


def _check_discounts(discounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for position, line in enumerate(discounts):
        if not isinstance(line, Mapping) or set(line) != _DISCOUNT_KEYS:
            raise ValueError(f"discount {position} must have exactly {sorted(_DISCOUNT_KEYS)}")
        if not isinstance(line["discount_id"], str) or not line["discount_id"]:
            raise ValueError(f"discount {position} discount_id must be a non-empty string")
        checked.append({
            "discount_id": line["discount_id"],
            "amount": _minor_units(line["amount"], f"discount {position} amount"),
        })
    return checked


class Invoice(LedgerAggregate):
    class Issued(LedgerAggregate.Created):
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

    class PaymentSucceeded(LedgerAggregate.Event):
        payment_method_id: UUID | None
        amount: int

        def apply(self, invoice: Invoice) -> None:
            invoice.status = PAID
            invoice.amount_paid += self.amount
            invoice.payments.append({
                "at": self.timestamp, "status": SUCCEEDED, "reason": None,
                "amount": self.amount, "payment_method_id": self.payment_method_id,
            })

    class PaymentFailed(LedgerAggregate.Event):
        payment_method_id: UUID | None
        amount: int
        reason: str

        def apply(self, invoice: Invoice) -> None:
            invoice.status = PAST_DUE
            invoice.payments.append({
                "at": self.timestamp, "status": FAILED, "reason": self.reason,
                "amount": self.amount, "payment_method_id": self.payment_method_id,
            })

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

    def __init__(self, partner_id: UUID, number: str, period_start: datetime,
                 period_end: datetime, currency: str, items: list[dict[str, Any]],
                 subtotal: int, discounts: list[dict[str, Any]], discount: int,
                 credit_applied: int, total: int, amount_due: int) -> None:
        self.partner_id = partner_id
        self.number = number
        self.period_start = period_start
        self.period_end = period_end
        self.currency = currency
        self.items = items
        self.subtotal = subtotal
        self.discounts = discounts
        self.discount = discount
        self.credit_applied = credit_applied
        self.total = total
        self.amount_due = amount_due
        self.status = PAID if amount_due == 0 else OPEN
        self.amount_paid = 0
        self.amount_refunded = 0
        self.payments: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.void_reason: str | None = None
        # Keyed by str(id): a snapshot is JSON, whose object keys are strings.
        self._disputes: dict[str, dict[str, Any]] = {}

    @staticmethod
    def id_for(*, partner_id: UUID, period_start: datetime) -> UUID:
        return stable_id("invoice", partner_id, period_start.isoformat())

    @classmethod
    def issue(cls, *, partner_id: UUID, number: str, period_start: datetime,
              period_end: datetime, currency: str, items: Sequence[Mapping[str, Any]],
              subtotal: int, discounts: Sequence[Mapping[str, Any]], discount: int,
              credit_applied: int, total: int, amount_due: int, actor: Actor,
              at: datetime) -> Invoice:
        """Issue the invoice of `partner_id` for `[period_start, period_end)`.

        The figures must agree: the items sum to `subtotal`, the discount lines to
        `discount`, `total = subtotal - discount`, `amount_due = total - credit_applied`,
        none negative. A mismatch is a bug in the caller, so it raises `ValueError`. An
        invoice with nothing due is paid on issue.
        """
        if not isinstance(number, str) or not number:
            raise ValueError("number must be a non-empty string")
        if _aware(period_start, "period_start") >= _aware(period_end, "period_end"):
            raise ValueError("period_start must come before period_end")
        if currency not in CURRENCIES:
            raise ValueError(f"currency {currency!r} is not an accepted ISO 4217 code")
        checked_items = _check_items(items)
        checked_discounts = _check_discounts(discounts)
        for value, what in ((subtotal, "subtotal"), (discount, "discount"),
                            (credit_applied, "credit_applied"), (total, "total"),
                            (amount_due, "amount_due")):
            _minor_units(value, what)
        if sum(item["amount"] for item in checked_items) != subtotal:
            raise ValueError(f"items do not sum to the subtotal {subtotal}")
        if sum(line["amount"] for line in checked_discounts) != discount:
            raise ValueError(f"discount lines do not sum to the discount {discount}")
        if total != subtotal - discount:
            raise ValueError(f"total {total} is not subtotal {subtotal} - discount {discount}")
        if amount_due != total - credit_applied:
            raise ValueError(
                f"amount_due {amount_due} is not total {total} - credit {credit_applied}"
            )
        return cls._start(
            cls.Issued, id=cls.id_for(partner_id=partner_id, period_start=period_start),
            actor=actor, at=at, partner_id=partner_id, number=number,
            period_start=period_start, period_end=period_end, currency=currency,
            items=checked_items, subtotal=subtotal, discounts=checked_discounts,
            discount=discount, credit_applied=credit_applied, total=total,
            amount_due=amount_due,
        )

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

    def record_payment_attempt(self, *, payment_method_id: UUID | None, succeeded: bool,
                               reason: str | None, amount: int, actor: Actor,
                               at: datetime) -> None:
        """Record one charge of the balance due: a success pays the invoice, a failure
        (with the gateway's `reason`) makes it past due."""
        if self.status == PAID:
            raise AlreadyPaid(f"invoice {self.number} is already paid")
        if self.status == VOID:
            raise InvalidTransition(f"invoice {self.number} is void")
        if not _is_int(amount) or amount != self.balance_due:
            raise ValueError(f"a payment attempt charges the balance due {self.balance_due}, "
                             f"not {amount!r}")
        if succeeded:
            self._trigger(self.PaymentSucceeded, actor=actor, at=at,
                          payment_method_id=payment_method_id, amount=amount)
            return
        if not isinstance(reason, str) or not reason:
            raise ValueError("a failed payment attempt needs the gateway's reason")
        self._trigger(self.PaymentFailed, actor=actor, at=at,
                      payment_method_id=payment_method_id, amount=amount, reason=reason)

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
        if self.status not in (OPEN, PAST_DUE):
            raise InvalidTransition(f"cannot void an invoice that is {self.status}")
        self._trigger(self.Voided, actor=actor, at=at, reason=_reason(reason))

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
        if not _is_int(item_index) or not 0 <= item_index < len(self.items):
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
            if not _is_int(amount) or not 0 < amount <= item_amount:
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

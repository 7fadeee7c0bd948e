"""The `Partner` aggregate: a reseller's account, its currency, billing anchor and pricing,
its payment methods, credit balance and discounts.

Partners are snapshotted, and a snapshot is the aggregate's attributes as JSON; so the
state keeps payment methods and discounts as plain dicts keyed by strings, and the
properties below turn them back into `PaymentMethod` and `Discount` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.bounds import check_amount
from aggregates.charges import MAX_ANCHOR_DAY, billing_period
from aggregates.discounts import Discount, discount_from_dict, discount_to_dict
from aggregates.errors import DuplicateId, InvalidInput, InvalidTransition, NotFound
from aggregates.invoice_numbers import (
    check_prefix,
    credit_note_number,
    invoice_number,
    legacy_prefix,
)
from aggregates.money import validate_currency
from aggregates.pricing import pricing_from_dict, pricing_to_dict
from aggregates.tax import tax_terms_from_dict, tax_terms_to_dict
from aggregates.text import clean_name, clean_text

CREDIT_REASONS = ("adjustment", "refund_as_credit", "goodwill", "prior_change")
MAX_BRAND_LENGTH = 40
MAX_TOKEN_LENGTH = 200


def _check_anchor_day(day: int) -> int:
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= MAX_ANCHOR_DAY:
        raise InvalidInput(f"billing_anchor_day must be an integer from 1 to {MAX_ANCHOR_DAY}")
    return day


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int, but `true` is never an amount, a month or a year.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class PaymentMethod:
    """A card on file: what the portal shows (brand, last4, expiry) and the gateway token."""

    id: UUID
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    token: str


def card_expired(method: PaymentMethod, at: datetime) -> bool:
    """Whether the card has expired at `at`: it is valid through the last day of its
    expiry month, UTC, and expired from the first instant of the month after."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be timezone-aware, got {at!r}")
    if method.exp_month == 12:
        year, month = method.exp_year + 1, 1
    else:
        year, month = method.exp_year, method.exp_month + 1
    return at.astimezone(UTC) >= datetime(year, month, 1, tzinfo=UTC)


def _check_card(*, brand: str, last4: str, exp_month: int, exp_year: int,
                token: str) -> dict[str, Any]:
    brand = clean_text(brand, what="brand", max_length=MAX_BRAND_LENGTH)
    if not (isinstance(last4, str) and len(last4) == 4 and last4.isascii() and last4.isdigit()):
        raise InvalidInput(f"last4 must be exactly 4 digits, got {last4!r}")
    if not _is_int(exp_month) or not 1 <= exp_month <= 12:
        raise InvalidInput(f"exp_month must be an integer from 1 to 12, got {exp_month!r}")
    if not _is_int(exp_year) or not 2000 <= exp_year <= 2100:
        raise InvalidInput(f"exp_year must be an integer from 2000 to 2100, got {exp_year!r}")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH \
            or not token.isascii() or not token.isprintable() or " " in token:
        raise InvalidInput(f"token must be 1 to {MAX_TOKEN_LENGTH} printable ASCII characters "
                           "without spaces")
    return {"brand": brand, "last4": last4, "exp_month": exp_month, "exp_year": exp_year,
            "token": token}


class Partner(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        """Version 2 adds `invoice_prefix`; a partner created before (version 1) gets the
        prefix derived from its id (`legacy_prefix`), the same at every replay."""

        class_version = 2

        name: str
        currency: str
        billing_anchor_day: int
        pricing: dict[str, Any]
        invoice_prefix: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["invoice_prefix"] = legacy_prefix(state["originator_id"])

    class PricingChanged(LedgerAggregate.Event):
        pricing: dict[str, Any]
        effective_from: datetime

        def apply(self, partner: Partner) -> None:
            partner.pricing_changes.append((self.effective_from, self.pricing))

    class TaxChanged(LedgerAggregate.Event):
        """The partner's tax terms (`aggregates.tax`) from `effective_from` on."""

        tax: dict[str, Any]
        effective_from: datetime

        def apply(self, partner: Partner) -> None:
            partner.tax_changes = (*partner.tax_changes, (self.effective_from, self.tax))

    class PaymentMethodAdded(LedgerAggregate.Event):
        method_id: UUID
        brand: str
        last4: str
        exp_month: int
        exp_year: int
        token: str
        made_default: bool

        def apply(self, partner: Partner) -> None:
            partner._payment_methods[str(self.method_id)] = {
                "id": self.method_id, "brand": self.brand, "last4": self.last4,
                "exp_month": self.exp_month, "exp_year": self.exp_year, "token": self.token,
            }
            if self.made_default:
                partner.default_payment_method_id = self.method_id

    class PaymentMethodMadeDefault(LedgerAggregate.Event):
        method_id: UUID

        def apply(self, partner: Partner) -> None:
            partner.default_payment_method_id = self.method_id

    class PaymentMethodRemoved(LedgerAggregate.Event):
        """`default_payment_method_id` is the default once the method is gone."""

        method_id: UUID
        default_payment_method_id: UUID | None

        def apply(self, partner: Partner) -> None:
            del partner._payment_methods[str(self.method_id)]
            partner.default_payment_method_id = self.default_payment_method_id

    class CreditGranted(LedgerAggregate.Event):
        amount: int
        reason: str

        def apply(self, partner: Partner) -> None:
            partner.credit_balance += self.amount

    class CreditApplied(LedgerAggregate.Event):
        invoice_id: UUID
        amount: int

        def apply(self, partner: Partner) -> None:
            partner.credit_balance -= self.amount
            partner._credited_invoices.append(str(self.invoice_id))

    class InvoiceNumbered(LedgerAggregate.Event):
        """The partner's `sequence`-th invoice was issued (counted here so that two issues
        at once race on the partner's version: no gap, no duplicate)."""

        invoice_id: UUID
        sequence: int

        def apply(self, partner: Partner) -> None:
            partner.invoices_numbered = self.sequence

    class CreditNoteNumbered(LedgerAggregate.Event):
        """The partner's `sequence`-th credit note, against `invoice_id`; the part of it
        that went to the credit balance is `credit_balance_added`."""

        invoice_id: UUID
        credit_note_id: UUID
        sequence: int
        credit_balance_added: int

        def apply(self, partner: Partner) -> None:
            partner.credit_notes_numbered = self.sequence
            partner.credit_balance += self.credit_balance_added

    class CreditRestored(LedgerAggregate.Event):
        """The credit a voided invoice had applied, back on the balance."""

        invoice_id: UUID
        amount: int

        def apply(self, partner: Partner) -> None:
            partner.credit_balance += self.amount
            partner._credited_invoices.remove(str(self.invoice_id))

    class DiscountAdded(LedgerAggregate.Event):
        discount: dict[str, Any]

        def apply(self, partner: Partner) -> None:
            partner._discounts[self.discount["id"]] = {
                "discount": self.discount, "used_by": [], "removed": False,
            }

    class DiscountRemoved(LedgerAggregate.Event):
        discount_id: str

        def apply(self, partner: Partner) -> None:
            partner._discounts[self.discount_id]["removed"] = True

    class DiscountUsed(LedgerAggregate.Event):
        discount_id: str
        invoice_id: UUID

        def apply(self, partner: Partner) -> None:
            partner._discounts[self.discount_id]["used_by"].append(str(self.invoice_id))

    # States kept before numbering existed (snapshots, views) read these class defaults.
    invoice_prefix = ""
    invoices_numbered = 0
    credit_notes_numbered = 0

    def __init__(self, name: str, currency: str, billing_anchor_day: int,
                 pricing: dict[str, Any], invoice_prefix: str) -> None:
        self.name = name
        self.invoice_prefix = invoice_prefix
        self.currency = currency
        self.billing_anchor_day = billing_anchor_day
        self.initial_pricing = pricing
        self.pricing_changes: list[tuple[datetime, dict[str, Any]]] = []
        # Keyed by str(id) in the order added: a JSON object needs string keys.
        self._payment_methods: dict[str, dict[str, Any]] = {}
        self.default_payment_method_id: UUID | None = None
        self.credit_balance = 0
        self._credited_invoices: list[str] = []
        # Removed discounts stay (flagged) so that their ids are never reused.
        self._discounts: dict[str, dict[str, Any]] = {}

    @classmethod
    def create(cls, *, id: UUID, name: str, currency: str, billing_anchor_day: int,
               pricing: dict[str, Any], actor: Actor, at: datetime,
               invoice_prefix: str | None = None) -> Partner:
        """`invoice_prefix` None: the one derived from the id (tests' set-ups; the
        service claims a unique one first, service/commands/invoice_numbers.py)."""
        return cls._start(
            cls.Created, id=id, actor=actor, at=at, name=clean_name(name),
            currency=validate_currency(currency),
            billing_anchor_day=_check_anchor_day(billing_anchor_day),
            pricing=pricing_to_dict(pricing_from_dict(pricing)),
            invoice_prefix=legacy_prefix(id) if invoice_prefix is None
            else check_prefix(invoice_prefix),
        )

    # -- document numbers ------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """The invoice prefix; a state kept before prefixes existed derives it."""
        return self.invoice_prefix or legacy_prefix(self.id)

    def number_invoice(self, *, invoice_id: UUID, actor: Actor, at: datetime) -> str:
        """Counts the invoice being issued and answers its number, the next of the series."""
        sequence = self.invoices_numbered + 1
        self._trigger(self.InvoiceNumbered, actor=actor, at=at, invoice_id=invoice_id,
                      sequence=sequence)
        return invoice_number(self.prefix, sequence)

    def number_credit_note(self, *, invoice_id: UUID, credit_note_id: UUID,
                           credit_balance_added: int, actor: Actor, at: datetime) -> str:
        """Counts a credit note being issued (adding its `credit_balance_added` to the
        balance) and answers its number."""
        if not _is_int(credit_balance_added) or credit_balance_added < 0:
            raise ValueError(f"credit_balance_added must be a non-negative integer, "
                             f"got {credit_balance_added!r}")
        sequence = self.credit_notes_numbered + 1
        self._trigger(self.CreditNoteNumbered, actor=actor, at=at, invoice_id=invoice_id,
                      credit_note_id=credit_note_id, sequence=sequence,
                      credit_balance_added=credit_balance_added)
        return credit_note_number(self.prefix, sequence)

    def restore_credit(self, *, invoice_id: UUID, amount: int, actor: Actor,
                       at: datetime) -> None:
        """Give back the credit `invoice_id` applied (it is being voided); 0: nothing."""
        if not _is_int(amount) or amount < 0:
            raise ValueError(f"amount must be a non-negative integer, got {amount!r}")
        if amount == 0:
            return
        if str(invoice_id) not in self._credited_invoices:
            raise InvalidTransition(f"no credit of invoice {invoice_id} to restore")
        self._trigger(self.CreditRestored, actor=actor, at=at, invoice_id=invoice_id,
                      amount=amount)

    # -- pricing ---------------------------------------------------------------------------

    def pricing_at(self, at: datetime) -> dict[str, Any]:
        """The plan in force at `at`: the latest change whose effective time has come."""
        current = self.initial_pricing
        for effective_from, pricing in self.pricing_changes:
            if effective_from <= at:
                current = pricing
        return current

    def next_period_start(self, at: datetime) -> datetime:
        """The start of the billing period after the one holding `at`: when a pricing
        change made at `at` takes effect."""
        return billing_period(anchor_day=self.billing_anchor_day, containing=at)[1]

    def change_pricing(self, *, pricing: dict[str, Any], effective_from: datetime, actor: Actor,
                       at: datetime) -> None:
        self._trigger(self.PricingChanged, actor=actor, at=at,
                      pricing=pricing_to_dict(pricing_from_dict(pricing)),
                      effective_from=effective_from)

    # -- tax -------------------------------------------------------------------------------

    # Partners created (or snapshotted) before tax existed have no changes: this default,
    # which events replace and never change in place.
    tax_changes: tuple[tuple[datetime, dict[str, Any]], ...] = ()

    def tax_at(self, at: datetime) -> dict[str, Any] | None:
        """The tax terms in force at `at` (None: no tax): the latest change whose
        effective time has come."""
        current = None
        for effective_from, tax in self.tax_changes:
            if effective_from <= at:
                current = tax
        return current

    def change_tax(self, *, tax: dict[str, Any], effective_from: datetime, actor: Actor,
                   at: datetime) -> None:
        """New tax terms from `effective_from` (the next period) on."""
        self._trigger(self.TaxChanged, actor=actor, at=at,
                      tax=tax_terms_to_dict(tax_terms_from_dict(tax)),
                      effective_from=effective_from)

    # -- payment methods -------------------------------------------------------------------

    @property
    def payment_methods(self) -> dict[UUID, PaymentMethod]:
        """The cards on file, in the order they were added."""
        return {data["id"]: PaymentMethod(**data) for data in self._payment_methods.values()}

    @property
    def default_payment_method(self) -> PaymentMethod | None:
        if self.default_payment_method_id is None:
            return None
        return self.payment_methods[self.default_payment_method_id]

    def _require_method(self, method_id: UUID) -> None:
        if str(method_id) not in self._payment_methods:
            raise NotFound(f"payment method {method_id} not found")

    def add_payment_method(self, *, method_id: UUID, brand: str, last4: str, exp_month: int,
                           exp_year: int, token: str, actor: Actor, at: datetime) -> None:
        """Add a card; the first card on file becomes the default."""
        card = _check_card(brand=brand, last4=last4, exp_month=exp_month, exp_year=exp_year,
                           token=token)
        if card_expired(PaymentMethod(id=method_id, **card), at):
            # An expired card would only ever be declined, and the first one becomes the
            # default: refused, so that no invoice is charged to it.
            raise InvalidInput(f"the card expired at the end of {exp_month:02d}/{exp_year}",
                               field="exp_year")
        if str(method_id) in self._payment_methods:
            raise DuplicateId(f"payment method {method_id} already exists")
        self._trigger(self.PaymentMethodAdded, actor=actor, at=at, method_id=method_id,
                      made_default=self.default_payment_method_id is None, **card)

    def make_default_payment_method(self, *, method_id: UUID, actor: Actor,
                                    at: datetime) -> None:
        """Make a card the default; making the default the default again records nothing."""
        self._require_method(method_id)
        if self.default_payment_method_id == method_id:
            return
        method = self.payment_methods[method_id]
        if card_expired(method, at):
            raise InvalidTransition(f"payment method {method_id} expired at the end of "
                                    f"{method.exp_month:02d}/{method.exp_year}")
        self._trigger(self.PaymentMethodMadeDefault, actor=actor, at=at, method_id=method_id)

    def remove_payment_method(self, *, method_id: UUID, actor: Actor, at: datetime) -> None:
        """Remove a card; removing the default makes the most recently added remaining card
        that has not expired at `at` the default (or none when no such card is left: an
        expired card never becomes the default, as `make_default_payment_method` refuses)."""
        self._require_method(method_id)
        default = self.default_payment_method_id
        if default == method_id:
            remaining = [method.id for method in self.payment_methods.values()
                         if method.id != method_id and not card_expired(method, at)]
            default = remaining[-1] if remaining else None
        self._trigger(self.PaymentMethodRemoved, actor=actor, at=at, method_id=method_id,
                      default_payment_method_id=default)

    # -- credits ---------------------------------------------------------------------------

    def grant_credit(self, *, amount: int, reason: str, actor: Actor, at: datetime) -> None:
        check_amount(amount, "credit amount", positive=True)
        if reason not in CREDIT_REASONS:
            raise InvalidInput(
                f"credit reason must be one of {', '.join(CREDIT_REASONS)}, got {reason!r}"
            )
        self._trigger(self.CreditGranted, actor=actor, at=at, amount=amount, reason=reason)

    def apply_credit(self, *, invoice_id: UUID, amount: int, actor: Actor, at: datetime) -> None:
        """Spend `amount` of the balance on an invoice being issued (once per invoice).

        An amount of 0 records nothing; more than the balance is refused, so the balance
        never goes below zero.
        """
        if not _is_int(amount) or amount < 0:
            raise InvalidInput(f"credit amount must be a non-negative integer, got {amount!r}")
        if amount == 0:
            return
        if amount > self.credit_balance:
            raise InvalidTransition(
                f"cannot apply {amount} of credit: the balance is {self.credit_balance}"
            )
        if str(invoice_id) in self._credited_invoices:
            raise InvalidTransition(f"credit was already applied to invoice {invoice_id}")
        self._trigger(self.CreditApplied, actor=actor, at=at, invoice_id=invoice_id,
                      amount=amount)

    # -- discounts -------------------------------------------------------------------------

    def _live_discount(self, discount_id: str | UUID) -> dict[str, Any]:
        entry = self._discounts.get(str(discount_id))
        if entry is None or entry["removed"]:
            raise NotFound(f"discount {discount_id} not found")
        return entry

    def add_discount(self, *, discount_id: str | UUID, kind: str, value: int | str,
                     sub_account_id: str | UUID | None, cycles: int | None, actor: Actor,
                     at: datetime) -> None:
        discount = discount_from_dict({
            "id": str(discount_id), "kind": kind, "value": value,
            "sub_account_id": None if sub_account_id is None else str(sub_account_id),
            "cycles": cycles,
        })
        if discount.id in self._discounts:
            raise DuplicateId(f"discount {discount_id} already exists")
        self._trigger(self.DiscountAdded, actor=actor, at=at,
                      discount=discount_to_dict(discount))

    def remove_discount(self, *, discount_id: str | UUID, actor: Actor, at: datetime) -> None:
        self._live_discount(discount_id)
        self._trigger(self.DiscountRemoved, actor=actor, at=at, discount_id=str(discount_id))

    def discount_used(self, *, discount_id: str | UUID, invoice_id: UUID, actor: Actor,
                      at: datetime) -> None:
        """Count one cycle of a discount as consumed by an issued invoice."""
        entry = self._live_discount(discount_id)
        discount = discount_from_dict(entry["discount"])
        if str(invoice_id) in entry["used_by"]:
            raise InvalidTransition(f"discount {discount_id} already counted for {invoice_id}")
        if discount.cycles is not None and len(entry["used_by"]) >= discount.cycles:
            raise InvalidTransition(f"discount {discount_id} has no cycles left")
        self._trigger(self.DiscountUsed, actor=actor, at=at, discount_id=discount.id,
                      invoice_id=invoice_id)

    def cycles_used(self, discount_id: str | UUID) -> int:
        return len(self._live_discount(discount_id)["used_by"])

    def active_discounts(self) -> list[Discount]:
        """Discounts not removed and with cycles left (or open-ended), in the order added."""
        active = []
        for entry in self._discounts.values():
            discount = discount_from_dict(entry["discount"])
            if entry["removed"]:
                continue
            if discount.cycles is None or len(entry["used_by"]) < discount.cycles:
                active.append(discount)
        return active

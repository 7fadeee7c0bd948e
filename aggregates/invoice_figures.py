"""An invoice's figures, declared once: what the cycle close drafts, the `Invoice.Issued`
event records, the invoice holds and the billing views show.

The identities every invoice's figures keep (checked by `check`, stated nowhere else):

    subtotal    = sum(items' amount)
    discount    = sum(discount lines' amount)            (never more than the subtotal)
    tax         = sum(tax lines' amount)                 (0 without tax or under reverse charge)
    total       = subtotal - discount + tax
    amount_due  = total - credit_applied - reduced

`reduced` is what credit notes later took off the amount due (aggregates/credit_note.py):
0 when the invoice is issued. Money is integer minor units throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from aggregates.bounds import is_int

F = TypeVar("F", bound="InvoiceFigures")

_ITEM_KEYS = {"sub_account_id", "name", "line_days", "amount"}
_DISCOUNT_KEYS = {"discount_id", "amount"}
# Discount lines issued since the order rule carry a note stating it.
_DISCOUNT_OPTIONAL = {"note"}


def minor_units(value: object, what: str) -> int:
    """`value` as a non-negative amount of minor units; anything else is the caller's bug."""
    if not is_int(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    return value


# `kw_only`: a subclass (the `Draft`) adds fields without defaults after `tax`'s default.
@dataclass(frozen=True, kw_only=True)
class InvoiceFigures:
    """The figures, in the order the invoice's JSON lists them. `items` are
    `{sub_account_id, name, line_days, amount}`, `discounts` `{discount_id, amount, note?}`,
    `tax` `{..., amount, reverse_charge, lines}` or None (no tax terms)."""

    items: list[dict[str, Any]]
    subtotal: int
    discounts: list[dict[str, Any]]
    discount: int
    # Invoices issued before tax existed carry none (the default, read back as None).
    tax: dict[str, Any] | None = None
    credit_applied: int
    total: int
    amount_due: int

    # -- the identities ---------------------------------------------------------------------

    @staticmethod
    def total_of(*, subtotal: int, discount: int, tax: int) -> int:
        """Discounts first, then tax."""
        return subtotal - discount + tax

    @staticmethod
    def due_of(*, total: int, credit_applied: int, reduced: int = 0) -> int:
        """What is left to pay of `total` once the credit and the credit notes' reductions
        are taken off."""
        return total - credit_applied - reduced

    @staticmethod
    def credit_for(*, credit_balance: int, total: int) -> int:
        """The credit an invoice applies: the balance, up to the total; a negative balance
        (should one ever be recorded) is no credit to apply."""
        return max(0, min(credit_balance, total))

    @property
    def tax_amount(self) -> int:
        return 0 if self.tax is None else int(self.tax["amount"])

    @property
    def reduced(self) -> int:
        """What credit notes took off the amount due since the issue (0 on issue)."""
        return self.due_of(total=self.total, credit_applied=self.credit_applied) - self.amount_due

    # -- building and reading ---------------------------------------------------------------

    @classmethod
    def priced(cls: type[F], *, items: list[dict[str, Any]], discounts: list[dict[str, Any]],
               credit_balance: int, tax: dict[str, Any] | None = None, **extra: Any) -> F:
        """The figures of `items` less `discounts` plus `tax`, with as much of
        `credit_balance` as they take (`extra`: a subclass's own fields)."""
        subtotal = sum(item["amount"] for item in items)
        discount = sum(line["amount"] for line in discounts)
        total, credit_applied, amount_due = invoice_totals(
            subtotal=subtotal, discount=discount, credit_balance=credit_balance,
            tax=0 if tax is None else int(tax["amount"]))
        return cls(items=items, subtotal=subtotal, discounts=discounts, discount=discount,
                   tax=tax, credit_applied=credit_applied, total=total, amount_due=amount_due,
                   **extra)

    @staticmethod
    def names() -> tuple[str, ...]:
        """The figures' names, in order (a subclass's own fields are not figures)."""
        return NAMES

    @staticmethod
    def of(source: object) -> InvoiceFigures:
        """The figures of anything that carries them as attributes (an invoice, its
        `Issued` event, a draft); one kept from before tax existed has none."""
        values: dict[str, Any] = {name: getattr(source, name) for name in NAMES
                                  if name != "tax" or hasattr(source, "tax")}
        return InvoiceFigures(**values)

    def as_dict(self) -> dict[str, Any]:
        """The figures by name, in order (the `Issued` event's and the JSON's keys)."""
        return {name: getattr(self, name) for name in NAMES}

    def money(self) -> dict[str, int]:
        """The five amounts (what an export or an audit compares)."""
        return {name: getattr(self, name) for name in MONEY}

    # -- checking ---------------------------------------------------------------------------

    def check(self) -> InvoiceFigures:
        """The figures of an invoice to issue, checked: every amount a non-negative
        integer, the identities kept (nothing reduced yet). Copies of the lines come back, so
        the caller's lists can change later without changing the invoice. A mismatch is a
        bug in the caller, so it raises `ValueError`."""
        items = _check_items(self.items)
        discounts = _check_discounts(self.discounts)
        for name, value in self.money().items():
            minor_units(value, name)
        if sum(item["amount"] for item in items) != self.subtotal:
            raise ValueError(f"items do not sum to the subtotal {self.subtotal}")
        if sum(line["amount"] for line in discounts) != self.discount:
            raise ValueError(f"discount lines do not sum to the discount {self.discount}")
        tax = _check_tax(self.tax, items)
        taxed = 0 if tax is None else tax["amount"]
        if self.total != self.total_of(subtotal=self.subtotal, discount=self.discount,
                                       tax=taxed):
            raise ValueError(f"total {self.total} is not subtotal {self.subtotal} - discount "
                             f"{self.discount} + tax {taxed}")
        if self.amount_due != self.due_of(total=self.total, credit_applied=self.credit_applied):
            raise ValueError(f"amount_due {self.amount_due} is not total {self.total} - "
                             f"credit {self.credit_applied}")
        return InvoiceFigures(**{**self.as_dict(), "items": items, "discounts": discounts,
                                 "tax": tax})


NAMES = tuple(f.name for f in fields(InvoiceFigures))
MONEY = ("subtotal", "discount", "credit_applied", "total", "amount_due")


def invoice_totals(*, subtotal: int, discount: int, credit_balance: int,
                   tax: int = 0) -> tuple[int, int, int]:
    """`(total, credit_applied, amount_due)`: discounts first, then tax, then credit,
    never below 0."""
    if subtotal < 0 or discount < 0 or tax < 0:
        raise ValueError("subtotal, discount and tax must not be negative")
    if discount > subtotal:
        raise ValueError(f"discount {discount} exceeds subtotal {subtotal}")
    total = InvoiceFigures.total_of(subtotal=subtotal, discount=discount, tax=tax)
    credit_applied = InvoiceFigures.credit_for(credit_balance=credit_balance, total=total)
    return total, credit_applied, InvoiceFigures.due_of(total=total,
                                                        credit_applied=credit_applied)


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
            "line_days": minor_units(item["line_days"], f"item {position} line_days"),
            "amount": minor_units(item["amount"], f"item {position} amount"),
        })
    return checked


def _check_discounts(discounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for position, line in enumerate(discounts):
        if not isinstance(line, Mapping) or not set(line) >= _DISCOUNT_KEYS \
                or set(line) - _DISCOUNT_KEYS - _DISCOUNT_OPTIONAL:
            raise ValueError(f"discount {position} must have {sorted(_DISCOUNT_KEYS)} "
                             f"and may have {sorted(_DISCOUNT_OPTIONAL)}")
        if not isinstance(line["discount_id"], str) or not line["discount_id"]:
            raise ValueError(f"discount {position} discount_id must be a non-empty string")
        entry = {
            "discount_id": line["discount_id"],
            "amount": minor_units(line["amount"], f"discount {position} amount"),
        }
        if "note" in line:
            if not isinstance(line["note"], str) or not line["note"]:
                raise ValueError(f"discount {position} note must be a non-empty string")
            entry["note"] = line["note"]
        checked.append(entry)
    return checked


def _check_tax(tax: Mapping[str, Any] | None, items: Sequence[Mapping[str, Any]]
               ) -> dict[str, Any] | None:
    """The invoice's tax: one line per item (in item order), summing to `amount`; none
    charged under reverse charge."""
    if tax is None:
        return None
    if not isinstance(tax, Mapping):
        raise ValueError("tax must be a mapping or None")
    lines = tax.get("lines")
    if not isinstance(lines, list) or len(lines) != len(items):
        raise ValueError("tax needs one line per item")
    for line, item in zip(lines, items, strict=True):
        if line.get("sub_account_id") != item["sub_account_id"]:
            raise ValueError("tax lines must follow the items' order")
        minor_units(line.get("amount"), "tax line amount")
        minor_units(line.get("taxable_amount"), "tax line taxable_amount")
    amount = minor_units(tax.get("amount"), "tax amount")
    if sum(line["amount"] for line in lines) != amount:
        raise ValueError(f"tax lines do not sum to the tax {amount}")
    if tax.get("reverse_charge") and amount:
        raise ValueError("a reverse-charge invoice charges no tax")
    return dict(tax)

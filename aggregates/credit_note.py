"""Credit notes: the rules that say how much a credit note may credit and where it goes.

A credit note corrects an issued invoice by `amount` (minor units), the whole invoice, an
amount, or amounts per item. What it may credit:

* never more than the invoice's total less earlier credit notes, and per item never more
  than the item's amount less what earlier credit notes credited on that item;
* a void invoice takes none.

Where the amount goes (`allocate`), in this order:

1. what is still due on the invoice (`balance_due`) is reduced; an unpaid invoice with
   nothing left due is settled (status `paid`, no more payment retries);
2. the rest, when a refund is asked, is refunded to the card, never more than was paid
   less earlier refunds;
3. what remains goes to the partner's credit balance (e.g. the credit the invoice had
   applied, when the whole invoice is credited).

So for every invoice, at every moment (the identity the property tests check; the
invoice's figures state it, `InvoiceFigures.due_of` in aggregates/invoice_figures.py):

    amount_due  = total - credit_applied - sum(credit notes' amount_due_reduced)
    balance_due = amount_due - amount_paid          (0 once settled or void)
    sum(credit notes' amount) <= total

The functions here are pure: the `Invoice` aggregate applies them when a note is issued,
and `ledger verify` applies them again to the log's invoice to re-derive each note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aggregates.errors import CreditNoteTooLarge, InvalidInput


class Creditable(Protocol):
    """What a credit note reads of its invoice."""

    @property
    def total(self) -> int: ...

    @property
    def items(self) -> list[dict[str, Any]]: ...

    @property
    def balance_due(self) -> int: ...

    @property
    def amount_paid(self) -> int: ...

    @property
    def amount_refunded(self) -> int: ...

    @property
    def credit_notes(self) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Allocation:
    """Where a credit note's amount went; the three parts sum to the amount."""

    amount_due_reduced: int
    credit_balance_added: int
    refunded: int

    def as_dict(self) -> dict[str, int]:
        return {"amount_due_reduced": self.amount_due_reduced,
                "credit_balance_added": self.credit_balance_added,
                "refunded": self.refunded}


@dataclass(frozen=True)
class Plan:
    """A credit note checked against its invoice: its amount, items and allocation."""

    amount: int
    items: list[dict[str, int]]
    allocation: Allocation


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def credited(invoice: Creditable) -> int:
    """What earlier credit notes credited on the invoice."""
    return sum(int(note["amount"]) for note in invoice.credit_notes)


def credited_on_item(invoice: Creditable, index: int) -> int:
    return sum(int(item["amount"]) for note in invoice.credit_notes
               for item in note["items"] if item["index"] == index)


def creditable(invoice: Creditable) -> int:
    """What a credit note may still credit on the invoice."""
    return invoice.total - credited(invoice)


def allocate(invoice: Creditable, amount: int, *, refund: bool) -> Allocation:
    """Where `amount` goes: the amount due first, then a refund (when asked, at most what
    is refundable), then the credit balance."""
    reduced = min(amount, invoice.balance_due)
    rest = amount - reduced
    refundable = invoice.amount_paid - invoice.amount_refunded
    refunded = min(rest, refundable) if refund else 0
    return Allocation(amount_due_reduced=reduced, credit_balance_added=rest - refunded,
                      refunded=refunded)


def _checked_items(invoice: Creditable,
                   items: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    checked: list[dict[str, int]] = []
    seen: set[int] = set()
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or set(item) != {"index", "amount"}:
            raise InvalidInput(f"items[{position}] must have exactly index and amount",
                               field="items")
        index, amount = item["index"], item["amount"]
        if not _is_int(index) or not 0 <= index < len(invoice.items):
            raise InvalidInput(f"the invoice has no item {index!r}", field="items")
        if index in seen:
            raise InvalidInput(f"item {index} is named twice", field="items")
        if not _is_int(amount) or amount <= 0:
            raise InvalidInput(f"items[{position}].amount must be a positive integer",
                               field="items")
        left = int(invoice.items[index]["amount"]) - credited_on_item(invoice, index)
        if amount > left:
            raise CreditNoteTooLarge(f"item {index} has {left} left to credit, not {amount}")
        seen.add(index)
        checked.append({"index": index, "amount": amount})
    return checked


def plan(invoice: Creditable, *, amount: int | None,
         items: Sequence[Mapping[str, Any]] | None, refund: bool) -> Plan:
    """The credit note `amount` and/or `items` ask for, checked: the whole invoice's
    remainder when neither is given; `amount`, when both are, must be the items' sum."""
    checked = _checked_items(invoice, items) if items else []
    left = creditable(invoice)
    if amount is None:
        amount = sum(item["amount"] for item in checked) if checked else left
    elif not _is_int(amount) or amount <= 0:
        raise InvalidInput("amount must be a positive integer", field="amount")
    elif checked and amount != sum(item["amount"] for item in checked):
        raise InvalidInput(f"amount {amount} is not the items' sum "
                           f"{sum(item['amount'] for item in checked)}", field="amount")
    if amount <= 0:
        raise CreditNoteTooLarge("nothing is left to credit on the invoice")
    if amount > left:
        raise CreditNoteTooLarge(f"the invoice has {left} left to credit, not {amount}")
    return Plan(amount=amount, items=checked,
                allocation=allocate(invoice, amount, refund=refund))

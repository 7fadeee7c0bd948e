"""Discounts: the value object, its parsing, and how a period's discounts are applied.

Which discounts are active in a period (cycle counting) is the caller's business; this
module only turns the active ones into amounts in minor units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, TypeGuard, get_args

from aggregates.bounds import check_amount
from aggregates.errors import InvalidInput
from aggregates.money import allocate, round_half_even

DiscountKind = Literal["percent", "fixed"]
_KINDS: tuple[str, ...] = get_args(DiscountKind)
MAX_CYCLES = 1200  # a hundred years of monthly cycles
MAX_PERCENT = 100
# A percent: whole, or with up to two decimals as a string ("12.5", "0.25"); never a float.
_PERCENT_TEXT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?", re.ASCII)


def percent_value(value: object) -> Fraction:
    """The exact percent of a discount's `value`: an int, or a decimal string with at most
    two decimals; 0 < p <= 100. Raises `InvalidInput` otherwise."""
    if _is_int(value):
        exact = Fraction(value)
    elif isinstance(value, str) and _PERCENT_TEXT.fullmatch(value):
        exact = Fraction(Decimal(value))
    else:
        raise InvalidInput("a percent discount must be a whole number or a decimal string with "
                           f"at most two decimals, got {value!r}")
    if not 0 < exact <= MAX_PERCENT:
        raise InvalidInput(f"a percent discount must be above 0 and at most {MAX_PERCENT}, "
                           f"got {value!r}")
    return exact


def canonical_percent(value: object) -> int | str:
    """One spelling per percent: whole ones as ints (as stored before decimals were
    accepted), others as the shortest decimal string ("12.50" -> "12.5")."""
    exact = percent_value(value)
    if exact.denominator == 1:
        return int(exact)
    return format(Decimal(exact.numerator) / Decimal(exact.denominator), "f")


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int, but `true` is never a sensible amount or count.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Discount:
    """A percent (`value` above 0 up to 100, whole or with two decimals as a string) or
    fixed (`value` minor units > 0) discount.

    `sub_account_id` None means partner-wide; `cycles` None means open-ended.
    """

    id: str
    kind: DiscountKind
    value: int | str
    sub_account_id: str | None = None
    cycles: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidInput("discount id must be a non-empty string")
        if self.kind not in _KINDS:
            raise InvalidInput(f"discount kind must be 'percent' or 'fixed', got {self.kind!r}")
        if self.kind == "percent":
            if canonical_percent(self.value) != self.value:
                raise InvalidInput(f"percent {self.value!r} is not in its canonical spelling")
        elif not _is_int(self.value):
            raise InvalidInput(f"discount value must be an integer, got {self.value!r}")
        else:
            check_amount(self.value, "a fixed discount", positive=True)
        if self.sub_account_id is not None and (
            not isinstance(self.sub_account_id, str) or not self.sub_account_id
        ):
            raise InvalidInput("discount sub_account_id must be a non-empty string or null")
        if self.cycles is not None and (not _is_int(self.cycles)
                                        or not 0 < self.cycles <= MAX_CYCLES):
            raise InvalidInput(
                f"discount cycles must be 1 to {MAX_CYCLES} or null, got {self.cycles!r}"
            )


_FIELDS = ("id", "kind", "value", "sub_account_id", "cycles")


def discount_from_dict(d: Mapping[str, Any]) -> Discount:
    """Parse `{"id", "kind", "value", "sub_account_id"?, "cycles"?}`, raising `InvalidInput`."""
    if not isinstance(d, Mapping):
        raise InvalidInput("discount must be an object")
    unknown = set(d) - set(_FIELDS)
    if unknown:
        raise InvalidInput(f"discount has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    for required in ("id", "kind", "value"):
        if required not in d:
            raise InvalidInput(f"discount needs {required}")
    value = d["value"]
    if d["kind"] == "percent":
        value = canonical_percent(value)
    return Discount(
        id=d["id"],
        kind=d["kind"],
        value=value,
        sub_account_id=d.get("sub_account_id"),
        cycles=d.get("cycles"),
    )


def discount_to_dict(discount: Discount) -> dict[str, Any]:
    """The API shape of a discount; `discount_from_dict(discount_to_dict(d)) == d`."""
    return {field: getattr(discount, field) for field in _FIELDS}


def _amount(discount: Discount, base: int) -> int:
    if discount.kind == "percent":
        # Exact decimal percent <= 100, so the rounded amount never exceeds the base.
        return round_half_even(base * percent_value(discount.value) / 100)
    # A fixed discount larger than what is left only takes it to zero.
    return min(int(discount.value), base)


def application_order(discounts: Sequence[Discount]) -> list[Discount]:
    """Sub-account (item) discounts first, then partner-wide ones, each group in the order
    added: what Stripe and Lago do, so the figure never depends on which support entered
    first."""
    return sorted(discounts, key=lambda d: d.sub_account_id is None)


def apply_discounts(
    *, items: Mapping[str | None, int], discounts: Sequence[Discount]
) -> list[tuple[Discount, int]]:
    """Each discount's amount, in the order given; see `discounted_items`."""
    return discounted_items(items=items, discounts=discounts)[0]


def discounted_items(
    *, items: Mapping[str | None, int], discounts: Sequence[Discount]
) -> tuple[list[tuple[Discount, int]], dict[str | None, int]]:
    """Each discount's amount (in the order given) and what is left of each item.

    They are applied in `application_order`: sub-account discounts first, then
    partner-wide. `items` maps a sub-account id (None: the Unassigned bucket) to its
    charge. A sub-account discount takes from that sub-account's item as reduced by
    earlier ones (0 if the item is absent). A partner-wide discount takes from the whole
    remaining subtotal; its amount is then spread over the items in proportion to what
    is left of each (exactly, by `allocate`), which is what each item is taxed on. No
    discount takes any base below zero, so the total of the discounts never exceeds the
    subtotal.
    """
    for key, amount in items.items():
        if not _is_int(amount) or amount < 0:
            raise ValueError(f"item {key!r} must be non-negative minor units, got {amount!r}")
    # A canonical order (Unassigned first, then by id) makes the spreading's
    # tie-breaks, and hence the amounts, independent of the caller's key order.
    remaining = {key: items[key] for key in sorted(items, key=lambda k: (k is not None, k or ""))}
    amounts = [0] * len(discounts)
    # Stable: each group keeps the order added.
    for index in sorted(range(len(discounts)), key=lambda i: discounts[i].sub_account_id is None):
        discount = discounts[index]
        if discount.sub_account_id is not None:
            base = remaining.get(discount.sub_account_id, 0)
            amount = _amount(discount, base)
            if amount:
                remaining[discount.sub_account_id] -= amount
        else:
            base = sum(remaining.values())
            amount = _amount(discount, base)
            if amount:
                # Each exact share is <= its item, and allocate yields the floor or
                # ceiling of each share, so no item goes negative.
                shares = allocate(
                    {key: Fraction(amount * left, base) for key, left in remaining.items()}
                )
                for key, share in shares.items():
                    remaining[key] -= share
        amounts[index] = amount
    return list(zip(discounts, amounts, strict=True)), remaining

"""Discounts: the value object, its parsing, and how a period's discounts are applied.

Which discounts are active in a period (cycle counting) is the caller's business; this
module only turns the active ones into amounts in minor units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, TypeGuard, get_args

from aggregates.bounds import check_amount
from aggregates.errors import InvalidInput
from aggregates.money import allocate, round_half_even

DiscountKind = Literal["percent", "fixed"]
_KINDS: tuple[str, ...] = get_args(DiscountKind)
MAX_CYCLES = 1200  # a hundred years of monthly cycles
MAX_PERCENT = 100


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int, but `true` is never a sensible amount or count.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Discount:
    """A percent (`value` 1..100) or fixed (`value` minor units > 0) discount.

    `sub_account_id` None means partner-wide; `cycles` None means open-ended.
    """

    id: str
    kind: DiscountKind
    value: int
    sub_account_id: str | None = None
    cycles: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidInput("discount id must be a non-empty string")
        if self.kind not in _KINDS:
            raise InvalidInput(f"discount kind must be 'percent' or 'fixed', got {self.kind!r}")
        if not _is_int(self.value):
            raise InvalidInput(f"discount value must be an integer, got {self.value!r}")
        if self.kind == "percent" and not 1 <= self.value <= MAX_PERCENT:
            raise InvalidInput(f"a percent discount must be 1..{MAX_PERCENT}, got {self.value}")
        if self.kind == "fixed":
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
    return Discount(
        id=d["id"],
        kind=d["kind"],
        value=d["value"],
        sub_account_id=d.get("sub_account_id"),
        cycles=d.get("cycles"),
    )


def discount_to_dict(discount: Discount) -> dict[str, Any]:
    """The API shape of a discount; `discount_from_dict(discount_to_dict(d)) == d`."""
    return {field: getattr(discount, field) for field in _FIELDS}


def _amount(discount: Discount, base: int) -> int:
    if discount.kind == "percent":
        # value <= 100, so the rounded amount never exceeds the base.
        return round_half_even(Fraction(base * discount.value, 100))
    # A fixed discount larger than what is left only takes it to zero.
    return min(discount.value, base)


def apply_discounts(
    *, items: Mapping[str | None, int], discounts: Sequence[Discount]
) -> list[tuple[Discount, int]]:
    """Each discount's amount, applying `discounts` in the order given.

    `items` maps a sub-account id (None: the Unassigned bucket) to its charge. A
    sub-account discount takes from that sub-account's item as reduced by earlier
    discounts (0 if the item is absent). A partner-wide discount takes from the whole
    remaining subtotal; its amount is then spread over the items in proportion to what
    is left of each (exactly, by `allocate`) so that later sub-account discounts see
    their item's share of it. No discount takes any base below zero, so the total of
    the discounts never exceeds the subtotal.
    """
    for key, amount in items.items():
        if not _is_int(amount) or amount < 0:
            raise ValueError(f"item {key!r} must be non-negative minor units, got {amount!r}")
    # A canonical order (Unassigned first, then by id) makes the spreading's
    # tie-breaks, and hence the amounts, independent of the caller's key order.
    remaining = {key: items[key] for key in sorted(items, key=lambda k: (k is not None, k or ""))}
    applied: list[tuple[Discount, int]] = []
    for discount in discounts:
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
        applied.append((discount, amount))
    return applied

"""Pricing plans as value objects: standard or tiered (graduated / volume).

Holds the plan types, their parsing from and rendering to the API's JSON shape, and
`monthly_price`, the price of `n` lines for a whole month in minor units. A tier may
carry a `flat_amount` (charged once for the tier when the count reaches it, as Stripe's
and Lago's tiers do) and a plan a `minimum_amount` (a monthly commitment); both are
monthly prices, shared per day like unit amounts (`aggregates.charges`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, get_args

from aggregates.bounds import MAX_LINE_COUNT, MAX_TIERS, check_amount
from aggregates.errors import InvalidInput

TierMode = Literal["graduated", "volume"]
_MODES: tuple[str, ...] = get_args(TierMode)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int, but `true` is never a sensible amount or bound.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_up_to(value: object, what: str) -> None:
    if value is not None and (not _is_int(value) or not 0 < value <= MAX_LINE_COUNT):
        raise InvalidInput(
            f"{what} must be a positive integer up to {MAX_LINE_COUNT} or null, got {value!r}")


@dataclass(frozen=True)
class StandardPricing:
    """Every line costs `unit_amount` per month."""

    unit_amount: int
    minimum_amount: int = 0

    def __post_init__(self) -> None:
        check_amount(self.unit_amount, "unit_amount")
        check_amount(self.minimum_amount, "minimum_amount")


@dataclass(frozen=True)
class Tier:
    """Lines up to and including `up_to` (None: no upper bound) cost `unit_amount` each,
    plus `flat_amount` once for the tier when the count reaches it."""

    up_to: int | None
    unit_amount: int
    flat_amount: int = 0

    def __post_init__(self) -> None:
        _check_up_to(self.up_to, "tier up_to")
        check_amount(self.unit_amount, "tier unit_amount")
        check_amount(self.flat_amount, "tier flat_amount")


@dataclass(frozen=True)
class TieredPricing:
    """Tiers in increasing `up_to`, the last one open-ended.

    `graduated`: each tier prices the lines that fall in it. `volume`: the tier the
    total count reaches prices every line.
    """

    mode: TierMode
    tiers: tuple[Tier, ...]
    minimum_amount: int = 0

    def __post_init__(self) -> None:
        check_amount(self.minimum_amount, "minimum_amount")
        if self.mode not in _MODES:
            raise InvalidInput(f"tiered mode must be one of {', '.join(_MODES)}, got {self.mode!r}")
        if not isinstance(self.tiers, tuple) or not all(isinstance(t, Tier) for t in self.tiers):
            raise InvalidInput("tiers must be a tuple of Tier")
        if not self.tiers:
            raise InvalidInput("tiered pricing needs at least one tier")
        if len(self.tiers) > MAX_TIERS:
            raise InvalidInput(f"tiered pricing takes at most {MAX_TIERS} tiers")
        *bounded, last = self.tiers
        if last.up_to is not None:
            raise InvalidInput("the last tier must have up_to null")
        previous = 0
        for position, tier in enumerate(bounded, start=1):
            if tier.up_to is None:
                raise InvalidInput(f"only the last tier may have up_to null (tier {position})")
            if tier.up_to <= previous:
                raise InvalidInput(
                    f"tier up_to must increase strictly: tier {position} has {tier.up_to} "
                    f"after {previous}"
                )
            previous = tier.up_to


Pricing = StandardPricing | TieredPricing


def _reject_foreign_keys(d: Mapping[str, Any], allowed: set[str], structure: str) -> None:
    # A key that belongs to the other structure is almost surely a mistake; a null one
    # is what a serialised union model sends, so it is let through.
    for key, value in d.items():
        if key not in allowed and value is not None:
            raise InvalidInput(f"{key!r} does not apply to {structure} pricing")


def pricing_from_dict(d: Mapping[str, Any]) -> Pricing:
    """Parse the API shape of a pricing plan, raising `InvalidInput` on bad values."""
    if not isinstance(d, Mapping):
        raise InvalidInput("pricing must be an object")
    structure = d.get("structure")
    if structure == "standard":
        _reject_foreign_keys(d, {"structure", "unit_amount", "minimum_amount"}, "standard")
        if "unit_amount" not in d:
            raise InvalidInput("standard pricing needs unit_amount")
        return StandardPricing(unit_amount=check_amount(d["unit_amount"], "unit_amount"),
                               minimum_amount=_minimum(d))
    if structure == "tiered":
        _reject_foreign_keys(d, {"structure", "mode", "tiers", "minimum_amount"}, "tiered")
        mode = d.get("mode")
        if mode not in _MODES:
            raise InvalidInput(f"tiered mode must be one of {', '.join(_MODES)}, got {mode!r}")
        raw_tiers = d.get("tiers")
        if not isinstance(raw_tiers, Sequence) or isinstance(raw_tiers, str | bytes):
            raise InvalidInput("tiers must be a list")
        if len(raw_tiers) > MAX_TIERS:
            raise InvalidInput(f"tiered pricing takes at most {MAX_TIERS} tiers")
        tiers = []
        for position, raw in enumerate(raw_tiers, start=1):
            if not isinstance(raw, Mapping) or "unit_amount" not in raw or "up_to" not in raw:
                raise InvalidInput(f"tier {position} must be an object with up_to and unit_amount")
            extra = set(raw) - {"up_to", "unit_amount", "flat_amount"}
            if extra:
                unknown = ", ".join(sorted(map(str, extra)))
                raise InvalidInput(f"tier {position} has unknown fields: {unknown}")
            up_to = raw["up_to"]
            _check_up_to(up_to, f"tier {position} up_to")
            unit_amount = check_amount(raw["unit_amount"], f"tier {position} unit_amount")
            flat = raw.get("flat_amount")
            flat_amount = 0 if flat is None else check_amount(
                flat, f"tier {position} flat_amount")
            tiers.append(Tier(up_to=up_to, unit_amount=unit_amount, flat_amount=flat_amount))
        return TieredPricing(mode=mode, tiers=tuple(tiers), minimum_amount=_minimum(d))
    raise InvalidInput(f"pricing structure must be 'standard' or 'tiered', got {structure!r}")


def _minimum(d: Mapping[str, Any]) -> int:
    value = d.get("minimum_amount")
    return 0 if value is None else check_amount(value, "minimum_amount")


def _tier_dict(t: Tier) -> dict[str, Any]:
    # A tier without a flat fee keeps the shape plans had before flat fees existed.
    body: dict[str, Any] = {"up_to": t.up_to, "unit_amount": t.unit_amount}
    if t.flat_amount:
        body["flat_amount"] = t.flat_amount
    return body


def pricing_to_dict(p: Pricing) -> dict[str, Any]:
    """The API shape of a plan; `pricing_from_dict(pricing_to_dict(p)) == p`. Zero flat
    and minimum amounts are left out, so plans without them read as they always did."""
    body: dict[str, Any]
    if isinstance(p, StandardPricing):
        body = {"structure": "standard", "unit_amount": p.unit_amount}
    else:
        body = {"structure": "tiered", "mode": p.mode,
                "tiers": [_tier_dict(t) for t in p.tiers]}
    if p.minimum_amount:
        body["minimum_amount"] = p.minimum_amount
    return body


def monthly_price(pricing: Pricing, n: int) -> int:
    """The price of `n` lines for a whole month, in minor units, flat fees included (the
    plan's minimum is the caller's: it also holds on days without lines)."""
    if not _is_int(n) or n < 0:
        raise ValueError(f"line count must be a non-negative integer, got {n!r}")
    if isinstance(pricing, StandardPricing):
        return n * pricing.unit_amount
    if pricing.mode == "volume":
        if n == 0:
            return 0
        for tier in pricing.tiers:
            if tier.up_to is None or n <= tier.up_to:
                return n * tier.unit_amount + tier.flat_amount
        raise AssertionError("the last tier is open-ended")  # pragma: no cover
    # Graduated: lines (lower, up_to] are priced by that tier.
    total = 0
    lower = 0
    for tier in pricing.tiers:
        upper = n if tier.up_to is None else min(n, tier.up_to)
        if upper > lower:
            # A tier reached charges its flat fee once.
            total += (upper - lower) * tier.unit_amount + tier.flat_amount
        if tier.up_to is None or n <= tier.up_to:
            break
        lower = tier.up_to
    return total

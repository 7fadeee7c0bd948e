"""Pricing plans: parsing, validation, round trips, and the monthly price of n lines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.errors import InvalidInput
from aggregates.pricing import (
    Pricing,
    StandardPricing,
    Tier,
    TieredPricing,
    monthly_price,
    pricing_from_dict,
    pricing_to_dict,
)

unit_amounts = st.integers(min_value=0, max_value=10_000)
standard_pricings = st.builds(StandardPricing, unit_amount=unit_amounts)


@st.composite
def tiered_pricings(draw: st.DrawFn, mode: str | None = None) -> TieredPricing:
    bounds = sorted(draw(st.lists(st.integers(1, 60), max_size=4, unique=True)))
    units = draw(st.lists(unit_amounts, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    tiers = tuple(
        Tier(up_to=up_to, unit_amount=unit)
        for up_to, unit in zip([*bounds, None], units, strict=True)
    )
    chosen = mode or draw(st.sampled_from(["graduated", "volume"]))
    return TieredPricing(mode=chosen, tiers=tiers)


pricings: st.SearchStrategy[Pricing] = st.one_of(standard_pricings, tiered_pricings())


def _tier_of(pricing: TieredPricing, line: int) -> Tier:
    return next(t for t in pricing.tiers if t.up_to is None or line <= t.up_to)


def brute_force_price(pricing: Pricing, n: int) -> int:
    """A per-line price table: what each of the n lines costs, summed."""
    if isinstance(pricing, StandardPricing):
        return sum(pricing.unit_amount for _ in range(n))
    if pricing.mode == "graduated":
        return sum(_tier_of(pricing, line).unit_amount for line in range(1, n + 1))
    return sum(_tier_of(pricing, n).unit_amount for _ in range(n)) if n else 0


GRADUATED = {
    "structure": "tiered",
    "mode": "graduated",
    "tiers": [{"up_to": 10, "unit_amount": 3000}, {"up_to": None, "unit_amount": 2500}],
}


def test_standard_pricing_is_parsed_from_the_api_shape() -> None:
    d = {"structure": "standard", "unit_amount": 3000}

    pricing = pricing_from_dict(d)

    assert pricing == StandardPricing(unit_amount=3000)


def test_tiered_pricing_is_parsed_from_the_api_shape() -> None:
    d = GRADUATED

    pricing = pricing_from_dict(d)

    assert pricing == TieredPricing(
        mode="graduated",
        tiers=(Tier(up_to=10, unit_amount=3000), Tier(up_to=None, unit_amount=2500)),
    )


def test_null_fields_of_the_other_structure_are_tolerated() -> None:
    d = {"structure": "standard", "unit_amount": 3000, "mode": None, "tiers": None}

    pricing = pricing_from_dict(d)

    assert pricing == StandardPricing(unit_amount=3000)


def _tiered(*tiers: tuple[Any, Any], mode: Any = "graduated") -> dict[str, Any]:
    return {
        "structure": "tiered",
        "mode": mode,
        "tiers": [{"up_to": u, "unit_amount": a} for u, a in tiers],
    }


@pytest.mark.parametrize(
    ("d", "complaint"),
    [
        ({"structure": "flat", "unit_amount": 1}, "structure"),
        ({"unit_amount": 1}, "structure"),
        ({"structure": "standard"}, "unit_amount"),
        ({"structure": "standard", "unit_amount": -1}, "negative"),
        ({"structure": "standard", "unit_amount": True}, "integer"),
        ({"structure": "standard", "unit_amount": 30.0}, "integer"),
        ({"structure": "standard", "unit_amount": "3000"}, "integer"),
        ({"structure": "standard", "unit_amount": 1, "tiers": []}, "tiers"),
        (_tiered((None, 1), mode="stairstep"), "mode"),
        (_tiered((None, 1), mode=None), "mode"),
        ({"structure": "tiered", "mode": "volume", "tiers": []}, "at least one tier"),
        ({"structure": "tiered", "mode": "volume"}, "list"),
        ({"structure": "tiered", "mode": "volume", "tiers": "abc"}, "list"),
        (_tiered((10, 1)), "last tier"),
        (_tiered((10, 1), (20, 1)), "last tier"),
        (_tiered((10, 1), (None, 1), (20, 1)), "last tier must have up_to null"),
        (_tiered((None, 1), (None, 1)), "only the last tier may"),
        (_tiered((10, 1), (10, 1), (None, 1)), "increase strictly"),
        (_tiered((20, 1), (10, 1), (None, 1)), "increase strictly"),
        (_tiered((0, 1), (None, 1)), "positive"),
        (_tiered((-5, 1), (None, 1)), "positive"),
        (_tiered((True, 1), (None, 1)), "positive"),
        (_tiered((2.5, 1), (None, 1)), "positive"),
        (_tiered((10, -1), (None, 1)), "negative"),
        (_tiered((10, 1), (None, False)), "integer"),
        ({"structure": "tiered", "mode": "volume", "tiers": [{"unit_amount": 1}]}, "up_to"),
        (
            {
                "structure": "tiered",
                "mode": "volume",
                "tiers": [{"up_to": None, "unit_amount": 1, "flat_amount": 5}],
            },
            "unknown",
        ),
    ],
)
def test_invalid_pricing_is_rejected_with_a_clear_detail(d: dict[str, Any], complaint: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        pricing_from_dict(d)

    assert complaint in refused.value.detail


def test_invalid_tiers_are_rejected_when_built_directly_too() -> None:
    tiers = (Tier(up_to=10, unit_amount=1), Tier(up_to=5, unit_amount=1), Tier(None, 1))

    with pytest.raises(InvalidInput):
        TieredPricing(mode="volume", tiers=tiers)


@given(pricings)
def test_pricing_round_trips_through_the_api_shape(pricing: Pricing) -> None:
    d = pricing_to_dict(pricing)

    parsed = pricing_from_dict(d)

    assert parsed == pricing
    assert pricing_to_dict(parsed) == d


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, 0), (1, 3000), (10, 30_000), (11, 32_500), (15, 42_500)],
)
def test_graduated_tiers_price_the_lines_that_fall_in_each(n: int, expected: int) -> None:
    pricing = pricing_from_dict(GRADUATED)

    price = monthly_price(pricing, n)

    assert price == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, 0), (1, 3000), (10, 30_000), (11, 27_500), (15, 37_500)],
)
def test_volume_tiers_price_every_line_at_the_tier_reached(n: int, expected: int) -> None:
    pricing = pricing_from_dict({**GRADUATED, "mode": "volume"})

    price = monthly_price(pricing, n)

    assert price == expected


def test_standard_pricing_charges_the_unit_amount_per_line() -> None:
    pricing = StandardPricing(unit_amount=3000)

    price = monthly_price(pricing, 3)

    assert price == 9000


def test_a_negative_line_count_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        monthly_price(StandardPricing(unit_amount=1), -1)


@given(tiered_pricings(mode="graduated"), st.integers(0, 120))
def test_graduated_price_agrees_with_a_per_line_price_table(pricing: TieredPricing, n: int) -> None:
    price = monthly_price(pricing, n)

    assert price == brute_force_price(pricing, n)


@given(tiered_pricings(mode="volume"), st.integers(0, 120))
def test_volume_price_agrees_with_a_per_line_price_table(pricing: TieredPricing, n: int) -> None:
    price = monthly_price(pricing, n)

    assert price == brute_force_price(pricing, n)


@given(standard_pricings, st.integers(0, 120))
def test_standard_price_agrees_with_a_per_line_price_table(pricing: Pricing, n: int) -> None:
    price = monthly_price(pricing, n)

    assert price == brute_force_price(pricing, n)

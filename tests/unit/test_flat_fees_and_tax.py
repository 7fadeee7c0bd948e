"""Tier flat fees, the plan minimum, percent discounts with decimals, and per-item tax."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.charges import period_charges
from aggregates.discounts import Discount, apply_discounts, discount_from_dict
from aggregates.errors import InvalidInput
from aggregates.invoice_draft import draft_invoice
from aggregates.pricing import monthly_price, pricing_from_dict, pricing_to_dict
from aggregates.tax import canonical_rate, invoice_tax, tax_terms_from_dict

Counts = dict[date, dict[str | None, int]]

# Stripe's tiered-pricing doc table: 1–5 at 7.00 + a flat 10.00 for the tier, 6–10 at 6.50
# + 9.00, 11+ at 6.00 + 8.00 (amounts in cents).
STRIPE: list[dict[str, Any]] = [{"up_to": 5, "unit_amount": 700, "flat_amount": 1000},
          {"up_to": 10, "unit_amount": 650, "flat_amount": 900},
          {"up_to": None, "unit_amount": 600, "flat_amount": 800}]


def plan(mode: str, tiers: list[dict[str, Any]], **extra: Any) -> Any:
    return pricing_from_dict({"structure": "tiered", "mode": mode, "tiers": tiers, **extra})


@pytest.mark.parametrize(("n", "graduated", "volume"), [
    (0, 0, 0),
    (1, 700 + 1000, 700 + 1000),
    (5, 3500 + 1000, 3500 + 1000),
    (6, 3500 + 1000 + 650 + 900, 6 * 650 + 900),
    (10, 3500 + 1000 + 3250 + 900, 10 * 650 + 900),
    (12, 3500 + 1000 + 3250 + 900 + 1200 + 800, 12 * 600 + 800),
])
def test_stripes_flat_fee_table(n: int, graduated: int, volume: int) -> None:
    assert monthly_price(plan("graduated", STRIPE), n) == graduated
    assert monthly_price(plan("volume", STRIPE), n) == volume


def test_lagos_graduated_example_with_flat_fees() -> None:
    # Lago's graduated model: 1.00 a unit for the first 100, 0.50 for the next 100, 0.10
    # beyond; each tier reached adds its flat fee once (here 10.00, 5.00, 0).
    tiers: list[dict[str, Any]] = [{"up_to": 100, "unit_amount": 100, "flat_amount": 1000},
             {"up_to": 200, "unit_amount": 50, "flat_amount": 500},
             {"up_to": None, "unit_amount": 10}]

    assert monthly_price(plan("graduated", tiers), 250) == 10_000 + 1000 + 5000 + 500 + 500
    assert monthly_price(plan("graduated", tiers), 100) == 10_000 + 1000


def test_flat_fees_and_minimum_round_trip_and_plain_plans_keep_their_shape() -> None:
    rich = {"structure": "tiered", "mode": "graduated", "tiers": STRIPE, "minimum_amount": 5000}
    plain = {"structure": "standard", "unit_amount": 3000}

    assert pricing_to_dict(pricing_from_dict(rich)) == rich
    assert pricing_to_dict(pricing_from_dict(plain)) == plain


def test_a_flat_fee_is_priced_per_day_like_the_unit_amounts() -> None:
    # One line for 10 days of a 30-day period: (700 + 1000) * 10 / 30.
    days: Counts = {date(2026, 4, 1) + timedelta(days=i): {"s": 1} for i in range(10)}

    result = period_charges(counts=days, pricing=plan("graduated", STRIPE), days_in_period=30)

    assert result.exact == {"s": Fraction(1700 * 10, 30)}
    assert result.subtotal == 567


def test_the_minimum_is_prorated_from_the_partners_first_day() -> None:
    # Minimum 10000 a month; one line at 3000 from day 21 of a 30-day period, the partner
    # created on day 16: 15 days owe at least 10000/30 each, 10 of them with the line.
    start = date(2026, 4, 1)
    counts: Counts = {start + timedelta(days=i): {"s": 1} for i in range(20, 30)}
    pricing = {"structure": "standard", "unit_amount": 3000, "minimum_amount": 10_000}

    draft = draft_invoice(counts=counts, days_in_period=30, pricing=pricing, names={"s": "S"},
                          discounts=[], credit_balance=0, period_start=start,
                          billable_from=start + timedelta(days=15))

    assert draft.subtotal == 10_000 * 15 // 30
    amounts = {item["sub_account_id"]: (item["line_days"], item["amount"])
               for item in draft.items}
    assert amounts == {"s": (10, 3333), None: (0, 1667)}


def test_a_line_count_above_the_minimum_pays_its_own_price() -> None:
    start = date(2026, 4, 1)
    counts: Counts = {start + timedelta(days=i): {"s": 5} for i in range(30)}
    pricing = {"structure": "standard", "unit_amount": 3000, "minimum_amount": 10_000}

    draft = draft_invoice(counts=counts, days_in_period=30, pricing=pricing, names={},
                          discounts=[], credit_balance=0, period_start=start)

    assert draft.subtotal == 15_000


@pytest.mark.parametrize(("value", "expected"), [
    ("12.5", 375), ("12.50", 375), ("0.01", 0), ("100", 3000), (10, 300), ("33.33", 1000),
])
def test_percent_discounts_take_two_decimals_exactly(value: Any, expected: int) -> None:
    discount = discount_from_dict({"id": "p", "kind": "percent", "value": value})

    assert apply_discounts(items={"s": 3000}, discounts=[discount]) == [(discount, expected)]


@pytest.mark.parametrize("value", ["0", "0.00", "100.01", "101", "12.555", "1e1", " 5", 12.5,
                                   "-1", "", True])
def test_percents_out_of_bounds_or_badly_spelt_are_refused(value: Any) -> None:
    with pytest.raises(InvalidInput):
        discount_from_dict({"id": "p", "kind": "percent", "value": value})


def test_the_discount_order_does_not_change_the_figure() -> None:
    # Partner-wide 10 % and a fixed 10 on Sales, in either order: Stripe's and Lago's
    # answer, the item discount first: (3000 - 10) * 90 % = 2691.
    wide = Discount(id="w", kind="percent", value=10)
    fixed = Discount(id="f", kind="fixed", value=10, sub_account_id="sales")
    for order in ([wide, fixed], [fixed, wide]):
        applied = dict((d.id, amount) for d, amount in
                       apply_discounts(items={"sales": 3000}, discounts=order))
        assert applied == {"f": 10, "w": 299}


def test_a_sub_account_discount_without_a_charge_has_no_line() -> None:
    idle = Discount(id="idle", kind="fixed", value=500, sub_account_id="empty", cycles=1)
    counts: Counts = {date(2026, 4, 1): {"s": 1}}

    draft = draft_invoice(counts=counts, days_in_period=30, pricing={
        "structure": "standard", "unit_amount": 3000}, names={}, discounts=[idle],
        credit_balance=0)

    assert draft.discounts == []


# -- tax ------------------------------------------------------------------------------------

ITEMS = [{"sub_account_id": "a", "name": "A", "line_days": 1, "amount": 0},
         {"sub_account_id": "b", "name": "B", "line_days": 1, "amount": 0}]


def test_tax_is_rounded_per_item_half_even_and_summed() -> None:
    # 8.875 % of 5400 = 479.25 -> 479; of 2700 = 239.625 -> 240; of 5 and 15 at 10 %:
    # 0.5 -> 0 and 1.5 -> 2 (half-even), not 2 for the 20 as a whole.
    terms = tax_terms_from_dict({"name": "Sales tax", "rate": "8.875", "reverse_charge": False})
    ten = tax_terms_from_dict({"name": "VAT", "rate": "10", "reverse_charge": False})

    nyc = invoice_tax(terms, items=ITEMS, taxable={"a": 5400, "b": 2700})
    tiny = invoice_tax(ten, items=ITEMS, taxable={"a": 5, "b": 15})

    assert nyc is not None and tiny is not None
    assert [line["amount"] for line in nyc["lines"]] == [479, 240]
    assert nyc["amount"] == 719
    assert [line["amount"] for line in tiny["lines"]] == [0, 2]


def test_reverse_charge_names_the_tax_and_charges_none() -> None:
    terms = tax_terms_from_dict({"name": "VAT", "rate": "20", "tax_id": "DE123456789",
                                 "reverse_charge": True})

    tax = invoice_tax(terms, items=ITEMS, taxable={"a": 5400, "b": 2700})

    assert tax is not None
    assert (tax["amount"], tax["rate"], tax["tax_id"]) == (0, "20", "DE123456789")
    assert "Reverse charge" in tax["note"]


@pytest.mark.parametrize(("rate", "canonical"), [("20", "20"), ("20.0", "20"),
                                                 ("8.8750", "8.875"), ("0", "0")])
def test_rates_have_one_spelling(rate: str, canonical: str) -> None:
    assert canonical_rate(rate) == canonical


@pytest.mark.parametrize("rate", ["100.5", "20.12345", "-1", "20%", 20, 20.0, "", "1e2"])
def test_bad_rates_are_refused(rate: Any) -> None:
    with pytest.raises(InvalidInput):
        tax_terms_from_dict({"name": "VAT", "rate": rate, "reverse_charge": False})


day_counts = st.dictionaries(
    st.integers(0, 29).map(lambda i: date(2026, 4, 1) + timedelta(days=i)),
    st.dictionaries(st.sampled_from([None, "a", "b", "c"]), st.integers(0, 30), max_size=4),
    max_size=30)
tier_plans = st.builds(
    lambda units, flats, minimum, mode: {
        "structure": "tiered", "mode": mode, "minimum_amount": minimum,
        "tiers": [{"up_to": up, "unit_amount": u, "flat_amount": f}
                  for up, u, f in zip((3, 10, None), units, flats, strict=True)]},
    st.lists(st.integers(0, 5000), min_size=3, max_size=3),
    st.lists(st.integers(0, 5000), min_size=3, max_size=3),
    st.integers(0, 50_000), st.sampled_from(["graduated", "volume"]))
discount_lists = st.lists(st.builds(
    lambda i, kind, sub: Discount(id=str(i), kind=kind, sub_account_id=sub,
                                  value="12.5" if kind == "percent" else 700),
    st.integers(), st.sampled_from(["percent", "fixed"]),
    st.sampled_from([None, "a", "b", "z"])), max_size=4, unique_by=lambda d: d.id)


@settings(max_examples=150, deadline=None)
@given(day_counts, tier_plans, discount_lists, st.sampled_from(["0", "20", "8.875"]),
       st.booleans(), st.integers(0, 20_000))
def test_items_sum_to_the_subtotal_and_the_totals_hold_with_tax_and_flat_tiers(
        counts: dict[date, dict[str | None, int]], pricing: dict[str, Any],
        discounts: list[Discount], rate: str, reverse: bool, credit: int) -> None:
    tax = {"name": "VAT", "rate": rate, "reverse_charge": reverse}

    draft = draft_invoice(counts=counts, days_in_period=30, pricing=pricing, names={},
                          discounts=discounts, credit_balance=credit, tax=tax,
                          period_start=date(2026, 4, 1), billable_from=date(2026, 4, 10))

    assert sum(item["amount"] for item in draft.items) == draft.subtotal
    assert draft.tax is not None
    assert sum(line["amount"] for line in draft.tax["lines"]) == draft.tax["amount"]
    assert sum(line["taxable_amount"] for line in draft.tax["lines"]) == (
        draft.subtotal - draft.discount)
    assert draft.total == draft.subtotal - draft.discount + draft.tax["amount"]
    assert draft.credit_applied == min(credit, draft.total)
    assert draft.amount_due == draft.total - draft.credit_applied
    if reverse:
        assert draft.tax["amount"] == 0

"""Period charges, discounts, invoice totals and billing periods."""

from __future__ import annotations

import calendar
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.charges import (
    billing_period,
    invoice_totals,
    next_period,
    period_charges,
    period_days,
)
from aggregates.discounts import Discount, apply_discounts, discount_from_dict, discount_to_dict
from aggregates.errors import InvalidInput
from aggregates.line_days import Placement, day_counts
from aggregates.pricing import Pricing, StandardPricing, Tier, TieredPricing, monthly_price
from tests.unit.test_pricing import pricings

PERIOD_START = datetime(2024, 1, 1, tzinfo=UTC)
PERIOD_END = datetime(2024, 2, 1, tzinfo=UTC)


def jan(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 1, day, hour, tzinfo=UTC)


# --- the SPEC's worked example ---------------------------------------------------------


def worked_example_counts() -> dict[date, Counter[str | None]]:
    l1 = ([Placement(datetime(2023, 12, 12, 9, tzinfo=UTC), "sales")], None)
    l2 = ([Placement(jan(1, 0), "sales")], jan(21, 15))
    l3 = ([Placement(jan(1, 0), None), Placement(jan(11, 9), "recruiting")], None)
    return day_counts([l1, l2, l3], period_start=PERIOD_START.date(), period_end=PERIOD_END.date())


def test_the_worked_example_bills_each_item_to_the_cent() -> None:
    counts = worked_example_counts()

    result = period_charges(
        counts=counts, pricing=StandardPricing(unit_amount=3000), days_in_period=31
    )

    assert result.line_days == {None: 10, "recruiting": 21, "sales": 52}
    assert result.exact == {
        None: Fraction(3000 * 10, 31),
        "recruiting": Fraction(3000 * 21, 31),
        "sales": Fraction(3000 * 52, 31),
    }
    assert result.items == {None: 968, "recruiting": 2032, "sales": 5032}
    assert result.subtotal == 8032


def test_the_worked_example_applies_the_credit_and_leaves_7032_due() -> None:
    result = period_charges(
        counts=worked_example_counts(),
        pricing=StandardPricing(unit_amount=3000),
        days_in_period=31,
    )
    assert result.subtotal == 8032

    totals = invoice_totals(subtotal=result.subtotal, discount=0, credit_balance=1000)

    assert totals == (8032, 1000, 7032)


def test_the_worked_example_explains_each_day() -> None:
    counts = worked_example_counts()

    result = period_charges(
        counts=counts, pricing=StandardPricing(unit_amount=3000), days_in_period=31
    )

    day_21, day_22 = result.per_day[20], result.per_day[21]
    assert len(result.per_day) == 31
    assert (day_21.day, day_21.lines, day_21.price) == (date(2024, 1, 21), 3, 9000)
    assert day_21.amount == Fraction(9000, 31)
    assert day_21.shares == {"sales": Fraction(6000, 31), "recruiting": Fraction(3000, 31)}
    assert (day_22.lines, day_22.price) == (2, 6000)


# --- period_charges ----------------------------------------------------------------


def test_a_day_is_shared_equally_among_its_line_days_under_tiers() -> None:
    pricing = TieredPricing(
        mode="graduated", tiers=(Tier(up_to=1, unit_amount=3100), Tier(None, unit_amount=0))
    )
    counts = {date(2024, 1, 1): {"a": 1, "b": 1}}

    result = period_charges(counts=counts, pricing=pricing, days_in_period=31)

    assert result.exact == {"a": Fraction(50), "b": Fraction(50)}
    assert result.items == {"a": 50, "b": 50}


def test_an_empty_period_charges_nothing() -> None:
    counts = {date(2024, 1, d): Counter() for d in range(1, 32)}

    result = period_charges(counts=counts, pricing=StandardPricing(3000), days_in_period=31)

    assert (result.items, result.subtotal, len(result.per_day)) == ({}, 0, 31)


def test_more_days_of_counts_than_the_period_has_is_refused() -> None:
    counts = {date(2024, 1, 1) + timedelta(days=i): {"a": 1} for i in range(32)}

    with pytest.raises(ValueError):
        period_charges(counts=counts, pricing=StandardPricing(3000), days_in_period=31)


buckets = st.sampled_from([None, "acme-sales", "acme-support", "globex", "initech"])
day_count_maps = st.dictionaries(buckets, st.integers(0, 40), max_size=5)


@st.composite
def periods(draw: st.DrawFn) -> tuple[dict[date, dict[str | None, int]], int]:
    days_in_period = draw(st.integers(28, 31))
    start = date(2024, 1, 1)
    counts = {
        start + timedelta(days=i): draw(day_count_maps)
        for i in range(draw(st.integers(0, days_in_period)))
    }
    return counts, days_in_period


@settings(max_examples=200)
@given(periods(), pricings)
def test_items_sum_exactly_to_the_rounded_subtotal(
    period: tuple[dict[date, dict[str | None, int]], int], pricing: Pricing
) -> None:
    counts, days_in_period = period
    expected = sum(
        (
            Fraction(monthly_price(pricing, sum(c.values())), days_in_period)
            for c in counts.values()
        ),
        Fraction(0),
    )

    result = period_charges(counts=counts, pricing=pricing, days_in_period=days_in_period)

    assert sum(result.items.values()) == result.subtotal
    assert result.subtotal == round(expected)
    assert sum(result.exact.values(), Fraction(0)) == expected
    assert sum(d.amount for d in result.per_day) == expected


@settings(max_examples=200)
@given(periods(), pricings, st.randoms(use_true_random=False))
def test_charging_twice_or_in_another_order_gives_the_same_cents(
    period: tuple[dict[date, dict[str | None, int]], int], pricing: Pricing, rnd: random.Random
) -> None:
    counts, days_in_period = period
    shuffled_days = list(counts.items())
    rnd.shuffle(shuffled_days)
    reordered = {}
    for day, day_count in shuffled_days:
        entries = list(day_count.items())
        rnd.shuffle(entries)
        reordered[day] = dict(entries)

    first = period_charges(counts=counts, pricing=pricing, days_in_period=days_in_period)
    second = period_charges(counts=counts, pricing=pricing, days_in_period=days_in_period)
    third = period_charges(counts=reordered, pricing=pricing, days_in_period=days_in_period)

    assert first == second
    assert first.items == third.items
    assert list(first.items) == list(third.items)


@settings(max_examples=200)
@given(periods(), pricings)
def test_line_days_count_every_line_on_every_day(
    period: tuple[dict[date, dict[str | None, int]], int], pricing: Pricing
) -> None:
    counts, days_in_period = period

    result = period_charges(counts=counts, pricing=pricing, days_in_period=days_in_period)

    assert sum(result.line_days.values()) == sum(sum(c.values()) for c in counts.values())
    assert set(result.items) == set(result.line_days) == set(result.exact)


# --- discounts -------------------------------------------------------------------------


def test_a_discount_is_parsed_and_rendered_in_the_api_shape() -> None:
    d = {"id": "d1", "kind": "percent", "value": 10, "sub_account_id": None, "cycles": 3}

    discount = discount_from_dict(d)

    assert discount == Discount(id="d1", kind="percent", value=10, sub_account_id=None, cycles=3)
    assert discount_to_dict(discount) == d


@pytest.mark.parametrize(
    "d",
    [
        {"id": "d", "kind": "percent", "value": 0},
        {"id": "d", "kind": "percent", "value": 101},
        {"id": "d", "kind": "percent", "value": 12.5},
        {"id": "d", "kind": "fixed", "value": 0},
        {"id": "d", "kind": "fixed", "value": -100},
        {"id": "d", "kind": "fixed", "value": True},
        {"id": "d", "kind": "bogo", "value": 10},
        {"id": "", "kind": "fixed", "value": 10},
        {"kind": "fixed", "value": 10},
        {"id": "d", "kind": "fixed"},
        {"id": "d", "kind": "fixed", "value": 10, "cycles": 0},
        {"id": "d", "kind": "fixed", "value": 10, "sub_account_id": ""},
        {"id": "d", "kind": "fixed", "value": 10, "currency": "USD"},
    ],
)
def test_invalid_discounts_are_rejected(d: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        discount_from_dict(d)


def test_a_partner_wide_discount_applies_to_what_earlier_discounts_left() -> None:
    items = {"sales": 5032, None: 968, "recruiting": 2032}
    fixed = Discount(id="f", kind="fixed", value=32, sub_account_id="sales")
    percent = Discount(id="p", kind="percent", value=10, sub_account_id=None)

    applied = apply_discounts(items=items, discounts=[fixed, percent])

    assert applied == [(fixed, 32), (percent, 800)]


def test_a_sub_account_discount_touches_only_that_item() -> None:
    items = {"sales": 1000, "support": 5000}
    half_off_sales = Discount(id="h", kind="percent", value=50, sub_account_id="sales")

    applied = apply_discounts(items=items, discounts=[half_off_sales])

    assert applied == [(half_off_sales, 500)]


def test_a_sub_account_discount_applies_before_an_earlier_added_partner_wide_one() -> None:
    # Issue 15: item discounts first, then partner-wide, whatever the order added.
    items = {"sales": 1000, "support": 3000}
    quarter_off = Discount(id="q", kind="percent", value=25)
    all_of_sales = Discount(id="s", kind="percent", value=100, sub_account_id="sales")

    applied = apply_discounts(items=items, discounts=[quarter_off, all_of_sales])

    assert applied == [(quarter_off, 750), (all_of_sales, 1000)]


def test_a_fixed_discount_never_takes_the_base_below_zero() -> None:
    items = {"sales": 300, None: 200}
    big = Discount(id="b", kind="fixed", value=400, sub_account_id="sales")
    bigger = Discount(id="c", kind="fixed", value=10_000)

    applied = apply_discounts(items=items, discounts=[big, bigger])

    assert applied == [(big, 300), (bigger, 200)]


def test_a_discount_for_a_sub_account_without_charges_takes_nothing() -> None:
    discount = Discount(id="x", kind="fixed", value=500, sub_account_id="gone")

    applied = apply_discounts(items={"sales": 1000}, discounts=[discount])

    assert applied == [(discount, 0)]


def test_percent_discounts_round_half_even() -> None:
    items = {"a": 5, "b": 15}
    ten_percent_of_a = Discount(id="a10", kind="percent", value=10, sub_account_id="a")
    ten_percent_of_b = Discount(id="b10", kind="percent", value=10, sub_account_id="b")

    applied = apply_discounts(items=items, discounts=[ten_percent_of_a, ten_percent_of_b])

    assert [amount for _, amount in applied] == [0, 2]


item_maps = st.dictionaries(buckets, st.integers(0, 100_000), max_size=5)
discounts = st.builds(
    Discount,
    id=st.text(min_size=1, max_size=3),
    kind=st.sampled_from(["percent", "fixed"]),
    value=st.integers(1, 100),
    sub_account_id=st.one_of(st.none(), st.sampled_from(["acme-sales", "globex", "nobody"])),
    cycles=st.one_of(st.none(), st.integers(1, 12)),
) | st.builds(
    Discount,
    id=st.text(min_size=1, max_size=3),
    kind=st.just("fixed"),
    value=st.integers(1, 200_000),
    sub_account_id=st.one_of(st.none(), st.sampled_from(["acme-sales", "globex", "nobody"])),
    cycles=st.none(),
)


@settings(max_examples=200)
@given(item_maps, st.lists(discounts, max_size=6))
def test_discounts_never_exceed_the_subtotal(
    items: dict[str | None, int], chosen: list[Discount]
) -> None:
    subtotal = sum(items.values())

    applied = apply_discounts(items=items, discounts=chosen)

    amounts = [amount for _, amount in applied]
    assert [d for d, _ in applied] == chosen
    assert all(amount >= 0 for amount in amounts)
    assert sum(amounts) <= subtotal
    for discount, amount in applied:
        if discount.sub_account_id is not None:
            assert amount <= items.get(discount.sub_account_id, 0)


@settings(max_examples=200)
@given(item_maps, st.lists(discounts, max_size=6), st.randoms(use_true_random=False))
def test_discounts_do_not_depend_on_the_order_of_the_items(
    items: dict[str | None, int], chosen: list[Discount], rnd: random.Random
) -> None:
    entries = list(items.items())
    rnd.shuffle(entries)

    first = apply_discounts(items=items, discounts=chosen)
    second = apply_discounts(items=dict(entries), discounts=chosen)

    assert first == second


# --- invoice totals --------------------------------------------------------------------


def test_credit_covers_at_most_the_total() -> None:
    totals = invoice_totals(subtotal=1000, discount=200, credit_balance=5000)

    assert totals == (800, 800, 0)


def test_a_discount_above_the_subtotal_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        invoice_totals(subtotal=100, discount=101, credit_balance=0)


@given(
    st.integers(0, 10**7).flatmap(lambda s: st.tuples(st.just(s), st.integers(0, s))),
    st.integers(-(10**6), 10**7),
)
def test_credit_applied_is_never_negative_nor_above_the_balance_or_the_total(
    subtotal_and_discount: tuple[int, int], credit_balance: int
) -> None:
    subtotal, discount = subtotal_and_discount

    total, credit_applied, amount_due = invoice_totals(
        subtotal=subtotal, discount=discount, credit_balance=credit_balance
    )

    assert total == subtotal - discount
    assert 0 <= credit_applied <= total
    assert credit_applied <= max(credit_balance, 0)
    assert amount_due == total - credit_applied >= 0
    assert credit_applied == min(max(credit_balance, 0), total)


# --- billing periods -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor_day", "containing", "expected"),
    [
        (1, datetime(2024, 1, 15, tzinfo=UTC), (date(2024, 1, 1), date(2024, 2, 1))),
        (15, datetime(2024, 1, 15, tzinfo=UTC), (date(2024, 1, 15), date(2024, 2, 15))),
        (
            15,
            datetime(2024, 1, 14, 23, 59, 59, tzinfo=UTC),
            (date(2023, 12, 15), date(2024, 1, 15)),
        ),
        (28, datetime(2024, 1, 3, tzinfo=UTC), (date(2023, 12, 28), date(2024, 1, 28))),
        (28, datetime(2024, 12, 31, tzinfo=UTC), (date(2024, 12, 28), date(2025, 1, 28))),
        (
            1,
            datetime(2024, 2, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            (date(2024, 1, 1), date(2024, 2, 1)),
        ),
    ],
)
def test_the_billing_period_runs_from_anchor_to_next_anchor_in_utc(
    anchor_day: int, containing: datetime, expected: tuple[date, date]
) -> None:
    start, end = billing_period(anchor_day=anchor_day, containing=containing)

    assert (start.date(), end.date()) == expected
    assert start.tzinfo == end.tzinfo == UTC
    assert (start.hour, start.minute, end.hour, end.minute) == (0, 0, 0, 0)


@pytest.mark.parametrize("anchor_day", [0, 32, -1, True])
def test_anchor_days_outside_1_to_31_are_rejected(anchor_day: int) -> None:
    with pytest.raises(InvalidInput):
        billing_period(anchor_day=anchor_day, containing=PERIOD_START)


def test_the_next_period_follows_on_without_a_gap() -> None:
    start = datetime(2024, 12, 28, tzinfo=UTC)

    following = next_period(start)

    assert following == (datetime(2025, 1, 28, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))


def test_next_period_refuses_an_instant_that_is_not_a_period_start() -> None:
    with pytest.raises(ValueError):
        next_period(datetime(2024, 1, 1, 12, tzinfo=UTC))


@given(
    st.integers(1, 31),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 1), timezones=st.just(UTC)
    ),
)
def test_the_period_contains_the_instant_and_the_next_one_starts_at_its_end(
    anchor_day: int, moment: datetime
) -> None:
    start, end = billing_period(anchor_day=anchor_day, containing=moment)

    following_start, following_end = next_period(start, anchor_day)

    assert start <= moment < end
    # Past a month's end the period starts on its last day.
    assert start.day == min(anchor_day, calendar.monthrange(start.year, start.month)[1])
    assert end.day == min(anchor_day, calendar.monthrange(end.year, end.month)[1])
    assert 28 <= len(period_days(start, end)) <= 31
    assert following_start == end
    assert billing_period(anchor_day=anchor_day, containing=end) == (end, following_end)

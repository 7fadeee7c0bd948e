"""Currencies, half-even rounding and exact allocation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.errors import InvalidInput
from aggregates.money import CURRENCIES, allocate, round_half_even, validate_currency

fractions = st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**4)


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "JPY", "CHF", "INR", "ZAR", "BRL"])
def test_common_currencies_are_accepted(code: str) -> None:
    result = validate_currency(code)

    assert result == code


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "", "XXX", "ZZZ", "XAU", "U$D"])
def test_unknown_or_malformed_currencies_are_rejected(code: str) -> None:
    with pytest.raises(InvalidInput):
        validate_currency(code)


def test_every_listed_currency_is_three_upper_case_letters() -> None:
    malformed = [c for c in CURRENCIES if len(c) != 3 or not c.isupper() or not c.isalpha()]

    assert malformed == []


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (Fraction(1, 2), 0),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 2),
        (Fraction(7, 2), 4),
        (Fraction(-1, 2), 0),
        (Fraction(-3, 2), -2),
        (Fraction(-5, 2), -2),
        (Fraction(26, 10), 3),
        (Fraction(24, 10), 2),
        (Fraction(-26, 10), -3),
        (Fraction(3000 * 52, 31), 5032),
        (Fraction(3000 * 10, 31), 968),
        (7, 7),
    ],
)
def test_round_half_even_rounds_ties_to_the_even_neighbour(x: Fraction, expected: int) -> None:
    result = round_half_even(x)

    assert result == expected


def test_round_half_even_refuses_floats() -> None:
    with pytest.raises(TypeError):
        round_half_even(2.5)


@given(fractions)
def test_round_half_even_is_never_more_than_half_away(x: Fraction) -> None:
    result = round_half_even(x)

    assert abs(x - result) <= Fraction(1, 2)
    if abs(x - result) == Fraction(1, 2):
        assert result % 2 == 0


def test_allocate_of_nothing_is_nothing() -> None:
    result = allocate({})

    assert result == {}


def test_allocate_gives_the_lost_cent_to_the_largest_remainder() -> None:
    exact = {"a": Fraction(1, 3), "b": Fraction(1, 3), "c": Fraction(1, 3)}

    result = allocate(exact)

    assert result == {"a": 1, "b": 0, "c": 0}


def test_allocate_takes_the_extra_cent_from_the_value_rounded_up_the_most() -> None:
    exact = {"a": Fraction(2, 3), "b": Fraction(7, 10), "c": Fraction(3, 5)}

    result = allocate(exact)

    assert sum(result.values()) == 2
    assert result == {"a": 1, "b": 1, "c": 0}


def test_allocate_breaks_ties_by_insertion_order() -> None:
    exact = {None: Fraction(1, 2), "x": Fraction(1, 2), 7: Fraction(1, 2)}

    result = allocate(exact)

    assert result == {None: 1, "x": 1, 7: 0}


@given(st.lists(fractions, max_size=12))
def test_allocate_sums_exactly_to_the_rounded_total(values: list[Fraction]) -> None:
    exact = {("key", i): v for i, v in enumerate(values)}

    result = allocate(exact)

    assert sum(result.values()) == round_half_even(sum(values, Fraction(0)))
    assert list(result) == list(exact)


@given(st.lists(fractions, max_size=12))
def test_allocate_gives_each_key_the_floor_or_ceiling_of_its_value(values: list[Fraction]) -> None:
    exact = dict(enumerate(values))

    result = allocate(exact)

    for key, value in exact.items():
        assert result[key] in (math.floor(value), math.ceil(value))


@given(st.lists(fractions, max_size=12))
def test_allocate_gives_the_same_cents_every_time(values: list[Fraction]) -> None:
    exact = {str(i): v for i, v in enumerate(values)}

    first, second = allocate(exact), allocate(dict(exact))

    assert first == second

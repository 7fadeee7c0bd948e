"""The validated field types: the rules they publish in the OpenAPI document agree with
the checks they make, and times, positions and text are parsed as documented."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from aggregates.bounds import MAX_POSITION
from aggregates.text import TEXT_PATTERN, text_problem
from service.api.fields import (
    INSTANT_SCHEMA,
    POSITION_PATTERN,
    AsOf,
    Instant,
    Limit,
    Money,
    Name,
    parse_as_of,
    parse_instant,
)

TEXT = re.compile(TEXT_PATTERN)
POSITION = re.compile(f"^{POSITION_PATTERN}$")
INSTANT = re.compile(str(INSTANT_SCHEMA["pattern"]))
# Characters the rule is about, mixed with ordinary ones, so that examples hit both sides.
EDGES = st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", " ", "\u00a0", "\u200b",
                         "\u200d", "\u200e", "\u202e", "\u2066", "\u2069", "\u061c", "\u2028",
                         "\ufeff", "\U000e0041", "\u3164", "a", "é", "–", "🙂", "\t"])


@given(st.text(st.one_of(EDGES, st.characters(exclude_categories=["Cs"])), max_size=12))
def test_the_published_text_pattern_and_the_text_check_agree(text: str) -> None:
    assert (TEXT.fullmatch(text) is not None) == (text_problem(text) is None)


@given(st.integers(min_value=-10, max_value=2**64))
def test_the_published_position_pattern_accepts_exactly_1_to_2_63_minus_1(n: int) -> None:
    assert (POSITION.fullmatch(str(n)) is not None) == (1 <= n <= MAX_POSITION)


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2100, 12, 28),
                    timezones=st.just(UTC)))
def test_every_time_the_published_pattern_allows_is_accepted(at: datetime) -> None:
    text = at.strftime("%Y-%m-%dT%H:%M:%SZ")

    if INSTANT.fullmatch(text):
        assert parse_instant(text) == at.replace(microsecond=0)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-11T12:00:00Z", datetime(2026, 1, 11, 12, tzinfo=UTC)),
    ("2026-01-11T12:00:00", datetime(2026, 1, 11, 12, tzinfo=UTC)),  # no offset: UTC
    ("2026-01-11T13:30:00+01:30", datetime(2026, 1, 11, 12, tzinfo=UTC)),
    ("2026-01-11T12:00Z", datetime(2026, 1, 11, 12, tzinfo=UTC)),
    ("2000-01-01T00:00:00Z", datetime(2000, 1, 1, tzinfo=UTC)),
    ("2100-12-31T23:59:59.999999Z", datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
])
def test_times_are_read_in_utc(text: str, expected: datetime) -> None:
    assert TypeAdapter(Instant).validate_python(text) == expected


@pytest.mark.parametrize("text", [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1999-12-31T23:59:59Z",
    "2101-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00", "2100-12-31T23:30:00-01:00",
    "2026-01-01", "2026-02-30T00:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+25:00",
    "20260101T000000Z", "2026-W01-1T00:00:00Z", "１２３", "", "now",
])
def test_times_outside_the_years_or_the_syntax_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Instant).validate_python(text)


@pytest.mark.parametrize("value", [1700000000, 1.5, True, None])
def test_a_time_is_never_a_number(value: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Instant).validate_python(value)


def test_as_of_values_come_out_in_one_spelling() -> None:
    assert parse_as_of("position:0042") == "position:42"
    assert parse_as_of("2026-01-11T13:00:00+01:00") == "2026-01-11T12:00:00+00:00"
    for bad in ("position:0", "position:-1", "position:9223372036854775808", "position:1.0",
                "position:", "position:٣"):
        with pytest.raises(ValidationError):
            TypeAdapter(AsOf).validate_python(bad)


@pytest.mark.parametrize("value", [True, "5", 5.0, -1, 10**12 + 1, None])
def test_money_is_a_bounded_json_integer(value: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Money).validate_python(value)


@pytest.mark.parametrize("text", ["5.0", "+5", " 5", "5_0", "true", "٥", "0", "501", ""])
def test_a_query_limit_is_plain_digits_within_its_bounds(text: str) -> None:
    assert TypeAdapter(Limit).validate_python("500") == 500
    with pytest.raises(ValidationError):
        TypeAdapter(Limit).validate_python(text)


def test_a_name_is_nfc_with_its_whitespace_collapsed() -> None:
    assert TypeAdapter(Name).validate_python("  Cafe\u0301 \u00a0 – Sales ") == "Caf\u00e9 – Sales"
    with pytest.raises(ValidationError):
        TypeAdapter(Name).validate_python(5)

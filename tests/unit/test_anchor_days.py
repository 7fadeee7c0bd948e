"""Anchor days 1–31: past a month's end the period starts on its last day (Stripe's rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aggregates.charges import billing_period, next_period, period_days


def _d(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.mark.parametrize(("anchor", "containing", "expected"), [
    (31, _d(2025, 2, 10), (date(2025, 1, 31), date(2025, 2, 28))),
    (31, _d(2024, 2, 29), (date(2024, 2, 29), date(2024, 3, 31))),  # leap year
    (31, _d(2025, 4, 30), (date(2025, 4, 30), date(2025, 5, 31))),
    (31, _d(2025, 4, 29), (date(2025, 3, 31), date(2025, 4, 30))),
    (30, _d(2025, 3, 1), (date(2025, 2, 28), date(2025, 3, 30))),
    (29, _d(2025, 12, 31), (date(2025, 12, 29), date(2026, 1, 29))),
])
def test_an_anchor_past_the_months_end_bills_on_its_last_day(
        anchor: int, containing: datetime, expected: tuple[date, date]) -> None:
    start, end = billing_period(anchor_day=anchor, containing=containing)

    assert (start.date(), end.date()) == expected


def test_a_year_of_31st_anchors_follows_on_and_comes_back_to_the_31st() -> None:
    start, _ = billing_period(anchor_day=31, containing=_d(2025, 1, 31))
    starts = [start.date()]
    for _ in range(12):
        start, _ = next_period(start, 31)
        starts.append(start.date())

    assert [d.day for d in starts] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]
    assert sum(len(period_days(*billing_period(anchor_day=31, containing=datetime.combine(
        d, datetime.min.time(), UTC)))) for d in starts[:12]) == 365


def test_a_clamped_start_needs_its_anchor_to_find_the_next_period() -> None:
    # Feb 28 under an anchor of the 31st is followed by Mar 31, not Mar 28.
    assert next_period(_d(2025, 2, 28), 31) == (_d(2025, 3, 31), _d(2025, 4, 30))
    assert next_period(_d(2025, 2, 28)) == (_d(2025, 3, 28), _d(2025, 4, 28))
    with pytest.raises(ValueError):
        next_period(_d(2025, 2, 27), 31)

"""Line-days: which bucket a line counts in on each UTC day of a period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.line_days import Placement, day_counts, line_day_buckets

JAN_1 = date(2024, 1, 1)
FEB_1 = date(2024, 2, 1)


def at(day: int, hour: int = 12, minute: int = 0, *, month: int = 1) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def buckets(
    placements: list[Placement], deleted_at: datetime | None = None
) -> dict[date, str | None]:
    return line_day_buckets(
        placements=placements, deleted_at=deleted_at, period_start=JAN_1, period_end=FEB_1
    )


def test_a_line_in_one_sub_account_all_month_counts_every_day_there() -> None:
    placements = [Placement(at(1, 0), "sales")]

    days = buckets(placements)

    assert len(days) == 31
    assert set(days.values()) == {"sales"}


def test_deletion_on_the_provisioning_day_counts_one_day() -> None:
    placements = [Placement(at(5, 9), "sales")]

    days = buckets(placements, deleted_at=at(5, 17))

    assert days == {date(2024, 1, 5): "sales"}


def test_the_provisioning_day_and_the_deletion_day_both_count() -> None:
    placements = [Placement(at(3, 23, 59), None)]

    days = buckets(placements, deleted_at=at(6, 0, 1))

    assert list(days) == [date(2024, 1, d) for d in (3, 4, 5, 6)]


def test_a_line_moved_twice_in_a_day_belongs_to_the_last_bucket() -> None:
    placements = [
        Placement(at(1, 0), "sales"),
        Placement(at(10, 9), "support"),
        Placement(at(10, 15), "recruiting"),
    ]

    days = buckets(placements)

    assert days[date(2024, 1, 9)] == "sales"
    assert days[date(2024, 1, 10)] == "recruiting"
    assert days[date(2024, 1, 11)] == "recruiting"


def test_changes_at_the_same_instant_keep_their_recorded_order() -> None:
    placements = [Placement(at(1, 0), None), Placement(at(2), "a"), Placement(at(2), "b")]

    days = buckets(placements)

    assert days[date(2024, 1, 2)] == "b"


def test_placements_out_of_order_are_read_by_time() -> None:
    placements = [Placement(at(1, 0), None), Placement(at(20), "late"), Placement(at(10), "early")]

    days = buckets(placements)

    assert days[date(2024, 1, 15)] == "early"
    assert days[date(2024, 1, 25)] == "late"


def test_the_deletion_day_belongs_to_the_bucket_at_deletion() -> None:
    placements = [Placement(at(1, 0), "sales"), Placement(at(21, 18), "support")]

    days = buckets(placements, deleted_at=at(21, 10))

    assert days[date(2024, 1, 21)] == "sales"
    assert max(days) == date(2024, 1, 21)


def test_a_line_provisioned_before_the_period_counts_from_the_period_start() -> None:
    placements = [
        Placement(datetime(2023, 11, 15, 8, tzinfo=UTC), None),
        Placement(datetime(2023, 12, 20, 8, tzinfo=UTC), "sales"),
    ]

    days = buckets(placements)

    assert min(days) == JAN_1
    assert days[JAN_1] == "sales"
    assert len(days) == 31


def test_days_outside_the_period_are_ignored() -> None:
    placements = [Placement(datetime(2023, 12, 30, tzinfo=UTC), "sales")]

    days = buckets(placements, deleted_at=datetime(2024, 2, 3, tzinfo=UTC))

    assert min(days) == JAN_1
    assert max(days) == date(2024, 1, 31)


def test_a_line_deleted_before_the_period_does_not_count() -> None:
    placements = [Placement(datetime(2023, 12, 1, tzinfo=UTC), "sales")]

    days = buckets(placements, deleted_at=datetime(2023, 12, 31, 23, 59, tzinfo=UTC))

    assert days == {}


def test_a_line_provisioned_after_the_period_does_not_count() -> None:
    placements = [Placement(datetime(2024, 2, 1, tzinfo=UTC), "sales")]

    days = buckets(placements)

    assert days == {}


def test_days_are_utc_calendar_days_whatever_the_offset_given() -> None:
    new_york = timezone(timedelta(hours=-5))
    placements = [Placement(datetime(2024, 1, 9, 21, 0, tzinfo=new_york), "sales")]

    days = buckets(placements, deleted_at=datetime(2024, 1, 10, 22, 0, tzinfo=new_york))

    assert list(days) == [date(2024, 1, 10), date(2024, 1, 11)]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        Placement(datetime(2024, 1, 1), "sales")


def test_day_counts_lists_every_day_of_the_period_and_counts_each_bucket() -> None:
    lines = [
        ([Placement(at(1, 0), "sales")], None),
        ([Placement(at(1, 0), "sales")], at(21, 16)),
        ([Placement(at(1, 0), None), Placement(at(11, 9), "recruiting")], None),
    ]

    counts = day_counts(lines, period_start=JAN_1, period_end=FEB_1)

    assert len(counts) == 31
    assert counts[date(2024, 1, 1)] == {"sales": 2, None: 1}
    assert counts[date(2024, 1, 21)] == {"sales": 2, "recruiting": 1}
    assert counts[date(2024, 1, 22)] == {"sales": 1, "recruiting": 1}


# --- property: the day-by-day scan agrees with the rule read literally ---------------

WINDOW_START = datetime(2023, 12, 25, tzinfo=UTC)
instants = st.integers(0, 45 * 24 * 60).map(lambda m: WINDOW_START + timedelta(minutes=m))
bucket_names = st.sampled_from([None, "a", "b", "c"])


def literal_rule(
    placements: list[Placement], deleted_at: datetime | None, day: date
) -> tuple[bool, str | None]:
    """Does the line count on `day`, and where? The SPEC's sentence, one day at a time."""
    first = min(p.at for p in placements)
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    existed = first < day_end and (deleted_at is None or deleted_at >= day_start)
    if not existed or (deleted_at is not None and deleted_at < first):
        return False, None
    moment = day_end if deleted_at is None or deleted_at >= day_end else deleted_at
    ordered = sorted(
        (p for p in placements if deleted_at is None or p.at <= deleted_at), key=lambda p: p.at
    )
    last = [p for p in ordered if p.at < day_end and p.at <= moment][-1]
    return True, last.bucket


@given(
    st.lists(st.builds(Placement, instants, bucket_names), min_size=1, max_size=6),
    st.one_of(st.none(), instants),
)
def test_line_days_agree_with_the_rule_read_one_day_at_a_time(
    placements: list[Placement], deleted_at: datetime | None
) -> None:
    expected = {}
    for day in (JAN_1 + timedelta(days=i) for i in range(31)):
        counts, bucket = literal_rule(placements, deleted_at, day)
        if counts:
            expected[day] = bucket

    days = buckets(placements, deleted_at)

    assert days == expected

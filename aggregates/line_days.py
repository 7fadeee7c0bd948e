"""Line-days: which bucket each line counts in on each UTC day of a billing period.

A line's history is a sequence of `Placement`s (the first is its provisioning) plus an
optional deletion time. A line counts on every UTC calendar day during any part of
which it existed and was not yet deleted (the provisioning day and the deletion day
both count), in the bucket it belonged to at the end of that day, or at its deletion.
A bucket is a sub-account id; None is the Available pool (the `unassigned` item).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


def _utc(moment: datetime, what: str) -> datetime:
    # A naive datetime has no defined UTC day; guessing one would bill the wrong day.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Placement:
    """From `at` on, the line sits in `bucket` (a sub-account id, None: the pool)."""

    at: datetime
    bucket: str | None

    def __post_init__(self) -> None:
        _utc(self.at, "Placement.at")


def line_day_buckets(
    *,
    placements: Sequence[Placement],
    deleted_at: datetime | None,
    period_start: date,
    period_end: date,
) -> dict[date, str | None]:
    """The bucket of one line on each UTC day in `[period_start, period_end)` it counts."""
    end_of_life = None if deleted_at is None else _utc(deleted_at, "deleted_at")
    # A stable sort by time keeps the recorded order among changes at the same instant,
    # so the last one recorded wins. Changes after the deletion never happened for
    # billing purposes.
    changes = sorted(
        (p for p in placements if end_of_life is None or _utc(p.at, "at") <= end_of_life),
        key=lambda p: _utc(p.at, "at"),
    )
    if not changes:
        return {}
    change_days = [_utc(p.at, "at").date() for p in changes]
    first_day = max(period_start, change_days[0])
    stop = period_end if end_of_life is None else min(period_end, end_of_life.date() + timedelta(1))
    days: dict[date, str | None] = {}
    index = -1
    day = first_day
    while day < stop:
        # Advance to the last change made on or before this day: the bucket at its end.
        while index + 1 < len(changes) and change_days[index + 1] <= day:
            index += 1
        days[day] = changes[index].bucket
        day += timedelta(days=1)
    return days


def day_counts(
    lines: Iterable[tuple[Sequence[Placement], datetime | None]],
    *,
    period_start: date,
    period_end: date,
) -> dict[date, Counter[str | None]]:
    """Per UTC day of `[period_start, period_end)`, how many lines count in each bucket.

    Every day of the period is present, with an empty Counter on days without lines,
    so that a day-by-day explanation shows the whole period.
    """
    counts: dict[date, Counter[str | None]] = {}
    day = period_start
    while day < period_end:
        counts[day] = Counter()
        day += timedelta(days=1)
    for placements, deleted_at in lines:
        buckets = line_day_buckets(
            placements=placements,
            deleted_at=deleted_at,
            period_start=period_start,
            period_end=period_end,
        )
        for line_day, bucket in buckets.items():
            counts[line_day][bucket] += 1
    return counts

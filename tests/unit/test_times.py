"""The read model's stored time form: fixed width, ordered like time, read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from projections.times import api_time, from_stored, stored

moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 1, 1),
                       timezones=st.builds(lambda m: timezone(timedelta(minutes=m)),
                                           st.integers(-720, 720)))


@given(moments)
def test_a_stored_time_reads_back_as_the_same_utc_instant(at: datetime) -> None:
    text = stored(at)
    assert len(text) == len("2026-01-11T12:00:00.000000Z") and text.endswith("Z")
    back = from_stored(text)
    assert back == at and back.tzinfo == UTC


@given(moments, moments)
def test_stored_text_orders_like_time(a: datetime, b: datetime) -> None:
    assert (stored(a) < stored(b)) == (a < b)


def test_api_time_shows_microseconds_only_when_there_are_some() -> None:
    assert api_time(stored(datetime(2026, 1, 11, 12, tzinfo=UTC))) == "2026-01-11T12:00:00Z"
    assert api_time(datetime(2026, 1, 11, 12, 0, 0, 5, tzinfo=UTC)) == \
        "2026-01-11T12:00:00.000005Z"


@given(moments)
def test_the_fast_forms_equal_the_strftime_forms(at: datetime) -> None:
    utc = at.astimezone(UTC)
    assert stored(at) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    api = utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    assert api_time(at) == api
    assert api_time(stored(at)) == api  # the stored text's shortcut
    assert api_time(at.isoformat()) == api  # any other text is parsed

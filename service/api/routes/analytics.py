"""Analytics: messages over time, response rate, new vs responded conversations,
volume-limit hits; overall, per sub-account, and sub-accounts compared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from aggregates.errors import InvalidInput, NotFound
from projections import analytics as view
from projections.as_of import resolve
from service.api.analytics_answers import (
    ResponseRates,
    Series,
    SubAccountsCompared,
    VolumeLimitHits,
)
from service.api.answers import answering
from service.api.auth import Context, partner_access
from service.api.fields import Instant
from service.api.json_numbers import json_numbers
from service.api.paging import AsOf

router = APIRouter(prefix="/v1/partners/{pid}/analytics", tags=["analytics"])
Bucket = Annotated[Literal["hour", "day", "week"],
                   Query(description="Bucket width: hour, day or ISO week (from Monday "
                                     "00:00 UTC).")]
Since = Annotated[Instant | None,
                  Query(description="Usage hours at or after this time (UTC if no zone).")]
Until = Annotated[Instant | None,
                  Query(description="Usage hours before this time (UTC if no zone).")]
SubAccount = Annotated[UUID | None, Query(description="Only this sub-account's usage.")]


def _read(ctx: Context, query: Any, /, **kwargs: Any) -> Any:
    return json_numbers(ctx.ledger.read_model.read(query, **kwargs))


def _window(ctx: Context, *, since: datetime | None, until: datetime | None,
            sub_account_id: UUID | None, as_of: str | None) -> view.Window:
    """The window a read sums over, at most `MAX_WINDOW` (366 days) long: `since` and
    `until` further apart are refused (422); without `since`, the window starts 366 days
    before `until` (or before the `as_of` moment, or now); with `since` alone, it must lie
    within 366 days of that moment."""
    since, until = (t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t
                    for t in (since, until))
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be later than since")
    position = None
    moment = ctx.ledger.clock.now()
    with ctx.ledger.read_model.reading() as sql:
        if as_of is not None:
            resolved = resolve(sql, as_of, now=moment)
            position, moment = resolved.position, resolved.at
        if sub_account_id is not None and not view.sub_account_exists(
                sql, partner_id=str(ctx.partner_id), sub_account_id=str(sub_account_id)):
            raise NotFound(f"no sub-account {sub_account_id}")
    end = until if until is not None else moment
    days = view.MAX_WINDOW.days
    if since is not None and end - since > view.MAX_WINDOW:
        raise InvalidInput(f"the window from since to {'until' if until else 'now'} spans "
                           f"more than {days} days; read at most {days} days at a time")
    floor = None
    if since is None:
        try:
            floor = end - view.MAX_WINDOW
        except OverflowError:  # an `until` within 366 days of year 1: nothing lies before
            floor = None
    return view.Window(partner_id=str(ctx.partner_id), since=since, until=until,
                       sub_account_id=str(sub_account_id) if sub_account_id else None,
                       as_of=position, floor=floor)


@router.get("/messages", **answering(Series))
def messages(bucket: Bucket = "day", since: Since = None, until: Until = None,
             sub_account_id: SubAccount = None, as_of: AsOf = None,
             ctx: Context = partner_access("analytics.read")) -> dict[str, Any]:
    """Messages over time: `messages_sent` and `messages_received` per bucket.

    Answer: `{since, until, sub_account_id, bucket, series: [{start, messages_sent,
    messages_received}], totals: {messages_sent, messages_received}}`. The series holds
    every bucket from `since` (or the first with usage) up to `until` (or the last with
    usage), empty ones as zeros; at most 5,000 buckets. The window is at most 366 days:
    without `since` it starts 366 days before `until` (or before the `as_of` moment, or
    now); a `since` more than 366 days before `until` (or that moment) is refused (422
    `validation_error`). `sub_account_id` narrows to one sub-account: usage belongs to
    the sub-account its line was in when the usage was first recorded. `as_of` (ISO time
    or `position:<n>`) reads the figures as recorded then.
    """
    window = _window(ctx, since=since, until=until, sub_account_id=sub_account_id,
                     as_of=as_of)
    return _read(ctx, view.series, window=window, bucket=bucket,
                                      figures=("messages_sent", "messages_received"))


@router.get("/conversations", **answering(Series))
def conversations(bucket: Bucket = "day", since: Since = None, until: Until = None,
                  sub_account_id: SubAccount = None, as_of: AsOf = None,
                  ctx: Context = partner_access("analytics.read")) -> dict[str, Any]:
    """New vs responded conversations over time, with the response rate of each bucket.

    Answer: `{since, until, sub_account_id, bucket, series: [{start, new_conversations,
    responded_conversations, response_rate}], totals: {…}}`. `response_rate` is
    responded / new conversations to four places (0.4321), `null` without new
    conversations. Buckets, window, sub-account and `as_of` as for `/messages`.
    """
    window = _window(ctx, since=since, until=until, sub_account_id=sub_account_id,
                     as_of=as_of)
    return _read(ctx,
        view.series, window=window, bucket=bucket,
        figures=("new_conversations", "responded_conversations", "response_rate"))


@router.get("/response-rate", **answering(ResponseRates))
def response_rate(since: Since = None, until: Until = None, as_of: AsOf = None,
                  ctx: Context = partner_access("analytics.read")) -> dict[str, Any]:
    """Response rate overall and per sub-account, over the window.

    Answer: `{since, until, overall: {new_conversations, responded_conversations,
    response_rate}, by_sub_account: [{sub_account_id, name, new_conversations,
    responded_conversations, response_rate}]}`; the Available pool's usage has
    `sub_account_id` null and name "Unassigned".
    """
    window = _window(ctx, since=since, until=until, sub_account_id=None, as_of=as_of)
    return _read(ctx, view.response_rates, window=window)


@router.get("/volume-limit-hits", **answering(VolumeLimitHits))
def volume_limit_hits(bucket: Bucket = "day", since: Since = None, until: Until = None,
                      sub_account_id: SubAccount = None, as_of: AsOf = None,
                      ctx: Context = partner_access("analytics.read")) -> dict[str, Any]:
    """Volume-limit hits over time, and the lines that hit the limit most.

    Answer: `{since, until, sub_account_id, bucket, series: [{start, volume_limit_hits}],
    totals: {volume_limit_hits}, top_lines: [{line_id, phone_number, status,
    volume_limit_hits}]}` (at most 20 lines, most hits first). Buckets, window,
    sub-account and `as_of` as for `/messages`.
    """
    window = _window(ctx, since=since, until=until, sub_account_id=sub_account_id,
                     as_of=as_of)
    return _read(ctx, view.volume_limit_hits, window=window, bucket=bucket)


@router.get("/sub-accounts", **answering(SubAccountsCompared))
def sub_accounts(since: Since = None, until: Until = None, as_of: AsOf = None,
                 ctx: Context = partner_access("analytics.read")) -> dict[str, Any]:
    """Sub-accounts compared, ranked by response rate (best first; those without new
    conversations last; ties by name).

    Answer: `{since, until, overall: {messages_sent, messages_received, new_conversations,
    responded_conversations, volume_limit_hits, response_rate}, data: [{rank,
    sub_account_id, name, status, lines, messages_sent, messages_received,
    new_conversations, responded_conversations, volume_limit_hits, response_rate}]}` where
    `lines` counts the lines that reported usage in the window.
    """
    window = _window(ctx, since=since, until=until, sub_account_id=None, as_of=as_of)
    return _read(ctx, view.compare_sub_accounts, window=window)

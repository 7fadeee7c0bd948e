"""The analytics routes' answers as pydantic models (see `service.api.answers`); the
shapes are built by `projections.analytics`. A series point and the totals carry the
figures the route reads (messages, conversations or volume-limit hits), so those fields
are optional: each answer holds only its own. Ratios are JSON numbers to four places,
null without new conversations."""

from __future__ import annotations

from service.api.answers import Answer


class Figures(Answer):
    messages_sent: int | None = None
    messages_received: int | None = None
    new_conversations: int | None = None
    responded_conversations: int | None = None
    volume_limit_hits: int | None = None
    response_rate: float | None = None


class Point(Figures):
    start: str


class Window(Answer):
    since: str | None
    until: str | None
    sub_account_id: str | None


class Series(Window):
    """Figures per bucket over the window, and their totals."""

    bucket: str
    series: list[Point]
    totals: Figures


class TopLine(Figures):
    line_id: str
    phone_number: str | None
    status: str | None


class VolumeLimitHits(Series):
    top_lines: list[TopLine]


class SubAccountRate(Figures):
    sub_account_id: str | None
    name: str | None


class ResponseRates(Window):
    overall: Figures
    by_sub_account: list[SubAccountRate]


class RankedSubAccount(SubAccountRate):
    rank: int
    status: str | None
    lines: int


class SubAccountsCompared(Window):
    overall: Figures
    data: list[RankedSubAccount]



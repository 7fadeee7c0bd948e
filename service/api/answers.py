"""The API's answers as pydantic models: what /openapi.json documents and a generated client
reads. One model per resource; the routes keep building their answers with
`service.api.representations` (the views give the same shapes), and these models name and
type those shapes. A route declares its model with `**answering(Model)`.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


def answering(model: Any) -> dict[str, Any]:
    """A route's keyword arguments for answering with `model`. Fields the route's answer
    leaves out stay out (`exclude_unset`): a model's optional field documents a key some
    answers carry, it never adds a `null` the route did not write."""
    return {"response_model": model, "response_model_exclude_unset": True}


class Answer(BaseModel):
    """An answer whose model names the fields clients rely on. Further keys a view writes
    pass through unchanged (`extra="allow"`): the model documents the answer, it must
    never drop a field the route answers today."""

    model_config = ConfigDict(extra="allow")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: `next_cursor` reads the next one (null on the last)."""

    data: list[T]
    next_cursor: str | None


class PendingPricing(BaseModel):
    """A plan that takes effect at the start of a later billing period."""

    pricing: dict[str, Any]
    effective_from: str


class Partner(BaseModel):
    """`representations.partner_json`: the plan in force now and the one waiting, if any."""

    id: str
    name: str
    currency: str
    billing_anchor_day: int
    invoice_prefix: str
    pricing: dict[str, Any]
    pending_pricing: PendingPricing | None
    created_at: str


class IssuedKey(BaseModel):
    """`representations.key_json` of a new key, with its token (shown this once)."""

    id: str
    role: str
    name: str
    partner_id: str | None
    created_at: str
    token: str


class Line(BaseModel):
    """`representations.line_json`: a phone line, its status and sending switch."""

    id: str
    phone_number: str
    status: str
    sending: str
    sub_account_id: str | None
    flag_reason: str | None
    requested_sub_account_id: str | None
    created_at: str
    updated_at: str


class SubAccount(BaseModel):
    """`representations.sub_account_json`: a sub-account and its pending request, if any."""

    id: str
    name: str
    status: str
    line_count: int
    naming_hint: str | None
    merged_into: str | None
    requested_primary_id: str | None
    created_at: str
    updated_at: str


class SubAccountLineCounts(BaseModel):
    sub_account_id: str
    name: str
    counts: dict[str, int]


class LinesOverview(BaseModel):
    """`projections.lines.overview`: lines per status, overall and per sub-account."""

    counts: dict[str, int]
    by_sub_account: list[SubAccountLineCounts]


class AvailableLine(Line):
    """A line of the Available pool: since when it has been there, and for how many whole
    days."""

    available_since: str
    days_idle: int


class ListedKey(BaseModel):
    """A key as the lists show it (`projections.api_keys`): never its token."""

    id: str
    role: str
    name: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


class Alert(BaseModel):
    """`projections.alerts`: something a partner should act on."""

    key: str
    kind: str
    subject_id: str | None
    message: str
    # Free-form: each alert kind carries its own facts (a card's expiry, a line's number).
    data: dict[str, Any]
    status: str
    raised_at: str
    resolved_at: str | None
    resolution: str | None
    position: int


class UsageRecorded(BaseModel):
    """What a usage batch did, in rows."""

    received: int
    recorded: int
    corrected: int
    unchanged: int


class PricingChangeRequest(BaseModel):
    """`projections.pricing_requests.request_json`: a partner's request for another plan."""

    id: str
    # The plan as `PUT /pricing` takes it; its fields depend on the pricing structure.
    pricing: dict[str, Any]
    reason: str
    status: str
    created_at: str


class CampaignStarted(BaseModel):
    campaign_id: str
    sub_account: SubAccount

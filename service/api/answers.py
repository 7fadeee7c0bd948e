"""The API's answers as pydantic models: what /openapi.json documents and a generated client
reads. One model per resource; the routes keep building their answers with
`service.api.representations` (the views give the same shapes), and these models name and
type those shapes. A route declares its model with `**answering(Model)`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def answering(model: type[BaseModel]) -> dict[str, Any]:
    """A route's keyword arguments for answering with `model`."""
    return {"response_model": model}


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

"""Pricing change requests: a partner may not set its own price (`PUT /pricing` takes the
platform admin and support only); its admin asks here, and support is alerted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from projections import pricing_requests as view
from service.api.answers import Page, PricingChangeRequest, answering
from service.api.auth import Context, partner_access
from service.api.paging import PageDep
from service.api.pricing_schemas import PricingChangeRequestCreate
from service.commands import execute
from service.commands.partners import RequestPricingChange

router = APIRouter(prefix="/v1/partners/{pid}/pricing-change-requests",
                   tags=["partners and keys"])


@router.post("", status_code=status.HTTP_201_CREATED, **answering(PricingChangeRequest))
def request_pricing_change(body: PricingChangeRequestCreate,
                           ctx: Context = partner_access("pricing.request")) -> dict[str, Any]:
    """Asks for another plan (`pricing` as for `PUT /pricing`) with a `reason`; answers
    `{id, pricing, reason, status: open, created_at}` and raises a
    `pricing_change_requested` alert on the partner for support."""
    request = execute(ctx.ledger, RequestPricingChange(
        partner_id=ctx.partner_id, pricing=body.pricing.plan(), reason=body.reason),
        actor=ctx.actor)
    return view.request_json(request)


@router.get("", **answering(Page[PricingChangeRequest]))
def list_pricing_change_requests(
        page: PageDep, ctx: Context = partner_access("pricing.requests.read")) -> dict[str, Any]:
    """The partner's requests in the order made."""
    rows, last = ctx.ledger.read_model.read(view.list_requests, partner_id=str(ctx.partner_id),
                                            after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)

"""Bootstrap and keys: partners, platform keys, partner keys, pricing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status

from service.api.answers import IssuedKey, Partner, answering
from service.api.auth import Context, PlatformContext, partner_access, platform_access
from service.api.idempotency import withholds
from service.api.representations import key_json, partner_json
from service.api.schemas import PartnerCreate, PartnerKeyCreate, PlatformKeyCreate, PricingChange
from service.commands import execute
from service.commands.partners import ChangePricing, CreatePartner, IssueKey, RevokeKey

router = APIRouter(prefix="/v1", tags=["partners and keys"])


@router.post("/partners", status_code=status.HTTP_201_CREATED, **answering(Partner))
def create_partner(body: PartnerCreate,
                   ctx: PlatformContext = platform_access("partners.create")) -> dict[str, Any]:
    ledger, partner = ctx.cluster.create_partner(CreatePartner(
        name=body.name, currency=body.currency, billing_anchor_day=body.billing_anchor_day,
        pricing=body.pricing.plan(), invoice_prefix=body.invoice_prefix), actor=ctx.actor)
    return partner_json(partner, now=ledger.clock.now())


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, dependencies=[withholds("token")],
             **answering(IssuedKey))
def create_platform_key(body: PlatformKeyCreate,
                        ctx: PlatformContext = platform_access("keys.platform")) -> dict[str, Any]:
    key, token = execute(ctx.ledger, IssueKey(partner_id=None, role=body.role, name=body.name),
                         actor=ctx.actor)
    return key_json(key, token=token)


@router.get("/partners/{pid}", **answering(Partner))
def get_partner(ctx: Context = partner_access("partners.read")) -> dict[str, Any]:
    ledger = ctx.ledger
    return partner_json(ledger.app.partner(ctx.partner_id), now=ledger.clock.now())


@router.put("/partners/{pid}/pricing", **answering(Partner))
def change_pricing(body: PricingChange, ctx: Context = partner_access("pricing.change"),
                   ) -> dict[str, Any]:
    ledger = ctx.ledger
    partner = execute(ledger, ChangePricing(partner_id=ctx.partner_id, pricing=body.plan()),
                      actor=ctx.actor)
    return partner_json(partner, now=ledger.clock.now())


@router.post("/partners/{pid}/api-keys", status_code=status.HTTP_201_CREATED,
             dependencies=[withholds("token")], **answering(IssuedKey))
def create_partner_key(body: PartnerKeyCreate, ctx: Context = partner_access("keys.partner"),
                       ) -> dict[str, Any]:
    key, token = execute(ctx.ledger, IssueKey(partner_id=ctx.partner_id, role=body.role,
                                              name=body.name), actor=ctx.actor)
    return key_json(key, token=token)


@router.delete("/partners/{pid}/api-keys/{kid}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_partner_key(kid: UUID, ctx: Context = partner_access("keys.partner")) -> Response:
    execute(ctx.ledger, RevokeKey(partner_id=ctx.partner_id, key_id=kid), actor=ctx.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

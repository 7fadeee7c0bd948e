"""Partner and key commands: create a partner, change its pricing, ask for a pricing
change, issue and revoke API keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from aggregates.api_key import ApiKey
from aggregates.base import Actor
from aggregates.charges import billing_period
from aggregates.errors import NotFound
from aggregates.partner import Partner
from aggregates.pricing_change_request import PricingChangeRequest
from service.commands.base import Command, Services, handles
from service.commands.invoice_numbers import claim_prefix
from service.commands.pricing_request_flow import PricingRequests


@dataclass(frozen=True)
class CreatePartner(Command[Partner]):
    name: str
    currency: str
    billing_anchor_day: int
    pricing: dict[str, Any]
    # Picked before the command so a partitioned deployment records it where it hashes to.
    partner_id: UUID = field(default_factory=uuid4)
    # None: derived from the name (service/commands/invoice_numbers.py).
    invoice_prefix: str | None = None


@dataclass(frozen=True)
class ClaimInvoicePrefix(Command[str]):
    """Claims the prefix a new partner's invoices will carry, in the home partition, so
    that it is unique across partitions; answers it (derived from `name` when None)."""

    partner_id: UUID
    name: str
    invoice_prefix: str | None


@dataclass(frozen=True)
class ChangePricing(Command[Partner]):
    """A new plan takes effect at the start of the next billing period."""

    partner_id: UUID
    pricing: dict[str, Any]


@dataclass(frozen=True)
class RequestPricingChange(Command[PricingChangeRequest]):
    partner_id: UUID
    pricing: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class IssueKey(Command[tuple[ApiKey, str]]):
    """Answers the key and its token (shown once). `partner_id` None: a platform key."""

    partner_id: UUID | None
    role: str
    name: str


@dataclass(frozen=True)
class RevokeKey(Command[None]):
    """Revokes one of the partner's keys, or (`partner_id` None) a platform key; a key of
    anyone else is not found."""

    partner_id: UUID | None
    key_id: UUID


@handles(CreatePartner)
def create_partner(s: Services, c: CreatePartner, actor: Actor, now: datetime) -> Partner:
    return s.app.create_partner(name=c.name, currency=c.currency,
                                billing_anchor_day=c.billing_anchor_day, pricing=c.pricing,
                                partner_id=c.partner_id, actor=actor, at=now,
                                invoice_prefix=c.invoice_prefix)


@handles(ClaimInvoicePrefix)
def claim_invoice_prefix(s: Services, c: ClaimInvoicePrefix, actor: Actor,
                         now: datetime) -> str:
    prefix, claim = claim_prefix(s.app, partner_id=c.partner_id, name=c.name,
                                 requested=c.invoice_prefix, actor=actor, at=now)
    s.app.save(claim)
    return prefix


@handles(ChangePricing)
def change_pricing(s: Services, c: ChangePricing, actor: Actor, now: datetime) -> Partner:
    partner = s.app.partner(c.partner_id)
    _, next_start = billing_period(anchor_day=partner.billing_anchor_day, containing=now)
    partner.change_pricing(pricing=c.pricing, effective_from=next_start, actor=actor, at=now)
    s.app.save(partner)
    return partner


@handles(RequestPricingChange)
def request_pricing_change(s: Services, c: RequestPricingChange, actor: Actor,
                           now: datetime) -> PricingChangeRequest:
    return PricingRequests(s.app).request(partner_id=c.partner_id, pricing=c.pricing,
                                          reason=c.reason, actor=actor, at=now)


@handles(IssueKey)
def issue_key(s: Services, c: IssueKey, actor: Actor, now: datetime) -> tuple[ApiKey, str]:
    return s.app.issue_key(partner_id=c.partner_id, role=c.role, name=c.name, actor=actor,
                           at=now)


@handles(RevokeKey)
def revoke_key(s: Services, c: RevokeKey, actor: Actor, now: datetime) -> None:
    key = s.app.load(ApiKey, c.key_id, partner_id=c.partner_id)
    if c.partner_id is None and key.partner_id is not None:
        raise NotFound(f"no platform key {c.key_id}")
    key.revoke(actor=actor, at=now)
    s.app.save(key)

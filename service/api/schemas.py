"""Request bodies: pydantic models that refuse unknown fields and wrong types (422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def as_utc(at: datetime) -> datetime:
    """Every time of this API is UTC, so a time written without an offset is read as UTC
    (not as the server's local time, and never compared naive against aware)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnerCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(min_length=3, max_length=3)
    billing_anchor_day: int = Field(ge=1, le=28)
    pricing: dict[str, Any]


class PricingChange(Body):
    pricing: dict[str, Any] | None = None
    structure: Literal["standard", "tiered"] | None = None
    unit_amount: int | None = None
    mode: Literal["graduated", "volume"] | None = None
    tiers: list[dict[str, Any]] | None = None

    def plan(self) -> dict[str, Any]:
        if self.pricing is not None:
            return self.pricing
        return self.model_dump(exclude_none=True, exclude={"pricing"})


class PlatformKeyCreate(Body):
    role: Literal["support", "auditor", "admin"]
    name: str = Field(min_length=1, max_length=200)


class PartnerKeyCreate(Body):
    role: Literal["admin", "operations", "billing", "reporting"]
    name: str = Field(min_length=1, max_length=200)


class SubAccountCreate(Body):
    name: str = Field(min_length=1, max_length=200)


class MergeRequest(Body):
    primary_id: UUID


class CampaignStart(Body):
    name: str = Field(min_length=1, max_length=200)


class Reason(Body):
    reason: str | None = Field(default=None, max_length=1000)


class LineProvision(Body):
    phone_number: str | None = Field(default=None, max_length=32)
    sub_account_id: UUID | None = None


class LineAssign(Body):
    sub_account_id: UUID


class Flag(Body):
    reason: str = Field(min_length=1, max_length=1000)


class ClockMove(Body):
    now: UtcDateTime


class PaymentMethodCreate(Body):
    brand: str = Field(min_length=1, max_length=40)
    last4: str = Field(pattern=r"^\d{4}$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    token: str = Field(min_length=1, max_length=200)


class CreditGrant(Body):
    amount: int = Field(gt=0, le=10**12)
    reason: Literal["adjustment", "refund_as_credit", "goodwill", "prior_change"]


class RefundCreate(Body):
    amount: int = Field(gt=0, le=10**12)
    reason: str = Field(min_length=1, max_length=1000)


class DiscountCreate(Body):
    kind: Literal["percent", "fixed"]
    value: int = Field(gt=0, le=10**12)
    sub_account_id: UUID | None = None
    cycles: int | None = Field(default=None, ge=1, le=1200)


class DisputeOpen(Body):
    item_index: int = Field(ge=0)
    reason: str = Field(min_length=1, max_length=1000)


class DisputeResolve(Body):
    resolution: Literal["credit", "refund", "no_change"]
    amount: int | None = Field(default=None, gt=0, le=10**12)
    reason: str = Field(min_length=1, max_length=1000)

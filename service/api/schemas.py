"""Request bodies: pydantic models that refuse unknown fields, wrong types and values out of
bounds (422), built from the validated field types of `service.api.fields`."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Strict, Tag

from aggregates.bounds import MAX_TIERS
from aggregates.invoice_numbers import PREFIX_PATTERN
from service.api.fields import (
    AnchorDay,
    Currency,
    Cycles,
    ExpMonth,
    ExpYear,
    Instant,
    ItemIndex,
    Label,
    Last4,
    LineCount,
    Money,
    Name,
    Percent,
    PhoneNumber,
    PositiveMoney,
    Token,
)
from service.api.fields import Reason as ReasonText

# The name other modules know every time of this API by.
UtcDateTime = Instant


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- pricing: the JSON shape of API.md, standard or tiered ---------------------------------

class Tier(Body):
    up_to: LineCount | None = Field(description="Lines up to and including this count; "
                                                "null on the last tier (no upper bound).")
    unit_amount: Money


class StandardPlan(Body):
    structure: Literal["standard"]
    unit_amount: Money

    def plan(self) -> dict[str, Any]:
        return self.model_dump()


class TieredPlan(Body):
    structure: Literal["tiered"]
    mode: Literal["graduated", "volume"]
    tiers: list[Tier] = Field(min_length=1, max_length=MAX_TIERS,
                              description="In increasing up_to; the last with up_to null.")

    def plan(self) -> dict[str, Any]:
        return self.model_dump()


PricingPlan = Annotated[StandardPlan | TieredPlan, Field(discriminator="structure")]


class WrappedPlan(Body):
    """`{"pricing": plan}`, the spelling `POST /v1/partners` uses."""

    pricing: PricingPlan

    def plan(self) -> dict[str, Any]:
        return self.pricing.plan()


def _pricing_spelling(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value["structure"]) if "structure" in value else "wrapped"
    if isinstance(value, BaseModel):
        return "wrapped" if isinstance(value, WrappedPlan) else getattr(value, "structure", None)
    return None


# `PUT /pricing` takes the plan itself or wrapped as `{"pricing": plan}`.
PricingChange = Annotated[
    Annotated[StandardPlan, Tag("standard")] | Annotated[TieredPlan, Tag("tiered")]
    | Annotated[WrappedPlan, Tag("wrapped")],
    Discriminator(_pricing_spelling, custom_error_type="invalid_structure",
                  custom_error_message="structure must be 'standard' or 'tiered' (or the plan "
                                       "given as {\"pricing\": plan})"),
]


class PartnerCreate(Body):
    name: Name
    currency: Currency
    billing_anchor_day: AnchorDay
    pricing: PricingPlan
    # Unique on the platform; derived from the name when absent (409 when taken).
    invoice_prefix: Annotated[str, Strict(), Field(pattern=PREFIX_PATTERN,
                                                   examples=["ACME"])] | None = None


# -- keys ----------------------------------------------------------------------------------

class PlatformKeyCreate(Body):
    role: Literal["support", "auditor", "admin"]
    name: Name


class PartnerKeyCreate(Body):
    role: Literal["admin", "operations", "billing", "reporting"]
    name: Name


# -- sub-accounts and lines ----------------------------------------------------------------

class SubAccountCreate(Body):
    name: Name


class MergeRequest(Body):
    primary_id: UUID


class CampaignStart(Body):
    name: Name


class Reason(Body):
    """An optional reason (rejections)."""

    reason: ReasonText | None = None


class LineProvision(Body):
    phone_number: PhoneNumber | None = None
    sub_account_id: UUID | None = None


class LineAssign(Body):
    sub_account_id: UUID


class Flag(Body):
    reason: ReasonText


class ClockMove(Body):
    now: Instant


# -- billing -------------------------------------------------------------------------------

class PaymentMethodCreate(Body):
    """A card; one that has already expired at the service clock is refused (422)."""

    brand: Label
    last4: Last4
    exp_month: ExpMonth
    exp_year: ExpYear
    token: Token


class CreditGrant(Body):
    amount: PositiveMoney
    reason: Literal["adjustment", "refund_as_credit", "goodwill", "prior_change"]


class RefundCreate(Body):
    amount: PositiveMoney
    reason: ReasonText


class PercentDiscount(Body):
    kind: Literal["percent"]
    value: Percent
    sub_account_id: UUID | None = None
    cycles: Cycles | None = None


class FixedDiscount(Body):
    kind: Literal["fixed"]
    value: PositiveMoney
    sub_account_id: UUID | None = None
    cycles: Cycles | None = None


DiscountCreate = Annotated[PercentDiscount | FixedDiscount, Field(discriminator="kind")]


class DisputeOpen(Body):
    item_index: ItemIndex
    reason: ReasonText


class DisputeResolve(Body):
    resolution: Literal["credit", "refund", "no_change"]
    amount: PositiveMoney | None = None
    reason: ReasonText

"""Request bodies of pricing change requests (the conventions of `schemas.py`)."""

from __future__ import annotations

from service.api.fields import Reason
from service.api.schemas import Body, PricingPlan


class PricingChangeRequestCreate(Body):
    # The plan's shape and amounts are typed here; the pricing rules check the rest
    # (tiers in order), as for `PUT /pricing`: a plan they refuse answers 422.
    pricing: PricingPlan
    reason: Reason

"""Request bodies of pricing change requests (the conventions of `schemas.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from service.api.schemas import Body


class PricingChangeRequestCreate(Body):
    # The plan is checked by the pricing rules themselves (aggregates/pricing.py), as for
    # `PUT /pricing`: a plan they refuse answers 422 and records nothing.
    pricing: dict[str, Any]
    reason: str = Field(min_length=1, max_length=1000)

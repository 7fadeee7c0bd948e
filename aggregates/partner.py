"""The `Partner` aggregate: a reseller's account, its currency, billing anchor and pricing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidInput
from aggregates.money import validate_currency
from aggregates.pricing import pricing_from_dict, pricing_to_dict

MAX_NAME_LENGTH = 200


def _clean_partner_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(f"name must be 1 to {MAX_NAME_LENGTH} characters")
    return cleaned


def _check_anchor_day(day: int) -> int:
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise InvalidInput("billing_anchor_day must be an integer from 1 to 28")
    return day


class Partner(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        name: str
        currency: str
        billing_anchor_day: int
        pricing: dict[str, Any]

    class PricingChanged(LedgerAggregate.Event):
        pricing: dict[str, Any]
        effective_from: datetime

        def apply(self, partner: Partner) -> None:
            partner.pricing_changes.append((self.effective_from, self.pricing))

    def __init__(self, name: str, currency: str, billing_anchor_day: int,
                 pricing: dict[str, Any]) -> None:
        self.name = name
        self.currency = currency
        self.billing_anchor_day = billing_anchor_day
        self.initial_pricing = pricing
        self.pricing_changes: list[tuple[datetime, dict[str, Any]]] = []

    @classmethod
    def create(cls, *, id: UUID, name: str, currency: str, billing_anchor_day: int,  # noqa: A002
               pricing: dict[str, Any], actor: Actor, at: datetime) -> Partner:
        return cls._start(
            cls.Created, id=id, actor=actor, at=at, name=_clean_partner_name(name),
            currency=validate_currency(currency),
            billing_anchor_day=_check_anchor_day(billing_anchor_day),
            pricing=pricing_to_dict(pricing_from_dict(pricing)),
        )

    def pricing_at(self, at: datetime) -> dict[str, Any]:
        """The plan in force at `at`: the latest change whose effective time has come."""
        current = self.initial_pricing
        for effective_from, pricing in self.pricing_changes:
            if effective_from <= at:
                current = pricing
        return current

    def change_pricing(self, *, pricing: dict[str, Any], effective_from: datetime, actor: Actor,
                       at: datetime) -> None:
        self._trigger(self.PricingChanged, actor=actor, at=at,
                      pricing=pricing_to_dict(pricing_from_dict(pricing)),
                      effective_from=effective_from)

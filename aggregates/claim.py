"""Claims on a partner's unique values (phone numbers, sub-account names).

A claim's id is derived from (kind, partner, value), so two concurrent first claims
collide on the event store's version constraint: the uniqueness rule holds under
concurrency without a lock or a read of a view.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate, stable_id
from aggregates.errors import DomainError


class Claim(LedgerAggregate):
    class Made(LedgerAggregate.Created):
        kind: str
        partner_id: UUID
        value: str
        holder_id: UUID

    class Renewed(LedgerAggregate.Event):
        holder_id: UUID

        def apply(self, aggregate: Claim) -> None:
            aggregate.holder_id = self.holder_id

    class Released(LedgerAggregate.Event):
        holder_id: UUID

        def apply(self, aggregate: Claim) -> None:
            aggregate.holder_id = None

    def __init__(self, kind: str, partner_id: UUID, value: str, holder_id: UUID) -> None:
        self.kind = kind
        self.partner_id = partner_id
        self.value = value
        self.holder_id: UUID | None = holder_id

    @staticmethod
    def id_for(*, kind: str, partner_id: UUID, value: str) -> UUID:
        return stable_id("claim", kind, partner_id, value)

    @classmethod
    def make(cls, *, kind: str, partner_id: UUID, value: str, holder_id: UUID, actor: Actor,
             at: datetime) -> Claim:
        return cls._start(
            cls.Made, id=cls.id_for(kind=kind, partner_id=partner_id, value=value), actor=actor,
            at=at, kind=kind, partner_id=partner_id, value=value, holder_id=holder_id,
        )

    def renew(self, *, holder_id: UUID, refusal: type[DomainError], actor: Actor,
              at: datetime) -> None:
        if self.holder_id == holder_id:
            return
        if self.holder_id is not None:
            raise refusal(f"{self.value!r} is already in use")
        self._trigger(self.Renewed, actor=actor, at=at, holder_id=holder_id)

    def release(self, *, holder_id: UUID, actor: Actor, at: datetime) -> None:
        if self.holder_id == holder_id:
            self._trigger(self.Released, actor=actor, at=at, holder_id=holder_id)

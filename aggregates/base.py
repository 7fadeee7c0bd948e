"""The base of every Partner Ledger aggregate: each event records who caused it and when.

The library stamps events with the system clock; billing, the audit trail and as-of reads
need the service clock instead, so every command passes `at` and it becomes the event's
timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


@dataclass(frozen=True)
class Actor:
    """Who caused an event: an API key (id and role), the bootstrap admin, or a policy."""

    key_id: str
    role: str


SYSTEM = Actor(key_id="system", role="system")


def policy_actor(name: str) -> Actor:
    return Actor(key_id=f"policy:{name}", role="policy")


def stable_id(*parts: object) -> UUID:
    """A deterministic id, so that the same natural key always names the same aggregate."""
    return uuid5(NAMESPACE_URL, "partner-ledger:" + ":".join(str(p) for p in parts))


class LedgerAggregate(Aggregate):
    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Created(Event, Aggregate.Created):
        pass

    def _trigger(self, event_class: type[Aggregate.Event], *, actor: Actor, at: datetime,
                 **data: Any) -> None:
        self.trigger_event(
            event_class, timestamp=at, actor_id=actor.key_id, actor_role=actor.role, **data
        )

    @classmethod
    def _start(cls, event_class: type[Aggregate.Created], *, id: UUID, actor: Actor,
               at: datetime, **data: Any) -> Any:
        return cls._create(
            event_class, id=id, timestamp=at, actor_id=actor.key_id, actor_role=actor.role, **data
        )

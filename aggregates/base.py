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

PARTNER_ROLES = ("admin", "operations", "billing", "reporting")
PLATFORM_ROLES = ("support", "auditor", "admin")
PARTNER, PLATFORM, POLICY = "partner", "platform", "policy"
_PLATFORM_PREFIX = "platform:"
_POLICY_PREFIX = "policy:"


@dataclass(frozen=True)
class Actor:
    """Who caused an event: an API key (its id, the role it was issued with, and whether
    it is a partner's or the platform's), or a policy (`key_id` names it).

    Events store the actor as they always have: `actor_id`, and `actor_role` with platform
    roles prefixed (`platform:support`) and policies as role `policy` with key id
    `policy:<name>`. `stored_key_id` and `stored_role` give that form; `from_stored` reads
    it (and the older unprefixed forms) back, so no stored event is ever rewritten.
    """

    key_id: str
    role: str
    scope: str = PARTNER

    def __post_init__(self) -> None:
        # The stored forms are accepted here too, so `Actor(k, "platform:support")` and
        # `Actor(k, "support", PLATFORM)` are the same actor.
        if self.role.startswith(_PLATFORM_PREFIX):
            object.__setattr__(self, "role", self.role.removeprefix(_PLATFORM_PREFIX))
            object.__setattr__(self, "scope", PLATFORM)
        elif self.role == POLICY:
            object.__setattr__(self, "key_id", self.key_id.removeprefix(_POLICY_PREFIX))
            object.__setattr__(self, "scope", POLICY)
        if self.scope not in (PARTNER, PLATFORM, POLICY):
            raise ValueError(f"an actor's scope is partner, platform or policy, not {self.scope!r}")

    @property
    def stored_key_id(self) -> str:
        return _POLICY_PREFIX + self.key_id if self.scope == POLICY else self.key_id

    @property
    def stored_role(self) -> str:
        if self.scope == PLATFORM:
            return _PLATFORM_PREFIX + self.role
        return POLICY if self.scope == POLICY else self.role

    @classmethod
    def from_stored(cls, key_id: str, role: str) -> Actor:
        """The actor an event recorded. Roles that no partner key carries (`support`,
        `auditor`, `system`) were written unprefixed by early versions: they are the
        platform's."""
        actor = cls(key_id=key_id, role=role)
        if actor.scope == PARTNER and actor.role not in PARTNER_ROLES:
            return cls(key_id=key_id, role=actor.role, scope=PLATFORM)
        return actor

    def as_json(self) -> dict[str, str]:
        return {"key_id": self.key_id, "role": self.role, "scope": self.scope}


SYSTEM = Actor(key_id="system", role="system", scope=PLATFORM)


def policy_actor(name: str) -> Actor:
    return Actor(key_id=name, role=POLICY, scope=POLICY)


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
            event_class, timestamp=at, actor_id=actor.stored_key_id,
            actor_role=actor.stored_role, **data
        )

    @classmethod
    def _start(cls, event_class: type[Aggregate.Created], *, id: UUID, actor: Actor,
               at: datetime, **data: Any) -> Any:
        return cls._create(
            event_class, id=id, timestamp=at, actor_id=actor.stored_key_id,
            actor_role=actor.stored_role, **data
        )

"""The `WebhookEndpoint` aggregate: where a partner's systems want its public events pushed.

The rules live here: an endpoint's URL and types can change while it exists, it is
enabled or disabled (by its partner, or by the deliverer after days of failures), and a
deleted endpoint takes no further change. Its signing secret is never in an event: the
log is kept and exported for ever, so the secret lives in a service table instead
(service/webhooks/secrets.py) and the events only count the rotations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidInput, InvalidTransition

ENABLED, DISABLED, DELETED = "enabled", "disabled", "deleted"
MAX_TYPES = 50
MAX_DESCRIPTION = 500


def _clean_types(event_types: list[str]) -> list[str]:
    if not event_types:
        raise InvalidInput("event_types must name at least one type (or \"*\")")
    if len(event_types) > MAX_TYPES:
        raise InvalidInput(f"event_types takes at most {MAX_TYPES} entries")
    return sorted(set(event_types))


def _clean_description(description: str | None) -> str | None:
    if description is None:
        return None
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description takes at most {MAX_DESCRIPTION} characters")
    return description or None


class WebhookEndpoint(LedgerAggregate):
    class Created(LedgerAggregate.Created):
        partner_id: UUID
        url: str
        event_types: list[str]
        description: str | None

    class Changed(LedgerAggregate.Event):
        partner_id: UUID
        url: str
        event_types: list[str]
        description: str | None

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.url = self.url
            endpoint.event_types = list(self.event_types)
            endpoint.description = self.description

    class Enabled(LedgerAggregate.Event):
        partner_id: UUID

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.status = ENABLED
            endpoint.disabled_reason = None

    class Disabled(LedgerAggregate.Event):
        partner_id: UUID
        reason: str

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.status = DISABLED
            endpoint.disabled_reason = self.reason

    class SecretRotated(LedgerAggregate.Event):
        """A new signing secret (`secret_version`); the previous one is honoured until
        `previous_expires_at`. The secrets themselves are not recorded here."""

        partner_id: UUID
        secret_version: int
        previous_expires_at: datetime

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.secret_version = self.secret_version

    class Deleted(LedgerAggregate.Event):
        partner_id: UUID

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.status = DELETED

    def __init__(self, partner_id: UUID, url: str, event_types: list[str],
                 description: str | None) -> None:
        self.partner_id = partner_id
        self.url = url
        self.event_types = list(event_types)
        self.description = description
        self.status = ENABLED
        self.disabled_reason: str | None = None
        self.secret_version = 1

    @classmethod
    def register(cls, *, id: UUID, partner_id: UUID, url: str, event_types: list[str],
                 description: str | None, actor: Actor, at: datetime) -> WebhookEndpoint:
        """`url` and `event_types` come checked by the caller (the address rules need
        the network and settings; the vocabulary is the projections')."""
        return cls._start(cls.Created, id=id, actor=actor, at=at, partner_id=partner_id,
                          url=url, event_types=_clean_types(event_types),
                          description=_clean_description(description))

    def _alive(self) -> None:
        if self.status == DELETED:
            raise InvalidTransition("the webhook endpoint is deleted")

    def change(self, *, url: str | None, event_types: list[str] | None,
               description: Any = ..., status: str | None, actor: Actor,
               at: datetime) -> None:
        """Changes what is given (`description=None` clears it; `...` leaves it)."""
        self._alive()
        new_url = url if url is not None else self.url
        new_types = _clean_types(event_types) if event_types is not None else self.event_types
        new_description = self.description if description is ... else \
            _clean_description(description)
        if (new_url, new_types, new_description) != (self.url, self.event_types,
                                                       self.description):
            self._trigger(self.Changed, actor=actor, at=at, partner_id=self.partner_id,
                          url=new_url, event_types=new_types, description=new_description)
        if status is not None and status != self.status:
            if status == ENABLED:
                self._trigger(self.Enabled, actor=actor, at=at, partner_id=self.partner_id)
            elif status == DISABLED:
                self.disable(reason="disabled by the partner", actor=actor, at=at)
            else:
                raise InvalidInput("status must be enabled or disabled")

    def disable(self, *, reason: str, actor: Actor, at: datetime) -> None:
        self._alive()
        if self.status != DISABLED:
            self._trigger(self.Disabled, actor=actor, at=at, partner_id=self.partner_id,
                          reason=reason)

    def rotate_secret(self, *, previous_expires_at: datetime, actor: Actor,
                      at: datetime) -> int:
        """The new secret's version number."""
        self._alive()
        self._trigger(self.SecretRotated, actor=actor, at=at, partner_id=self.partner_id,
                      secret_version=self.secret_version + 1,
                      previous_expires_at=previous_expires_at)
        return self.secret_version

    def delete(self, *, actor: Actor, at: datetime) -> None:
        self._alive()
        self._trigger(self.Deleted, actor=actor, at=at, partner_id=self.partner_id)

"""Webhook endpoint commands: register, change, rotate the secret, delete, and the
deliverer's own disable after days of failures.

The signing secret is written to `s_webhook_secrets` after the endpoint's event is saved
(projections/webhook_deliveries.py says why it is not in the event): a crash in between
leaves an endpoint whose deliveries wait, recording "no signing secret", until the
partner rotates it; the reverse order could leave a rotated-out secret expiring for a
rotation that never happened.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from aggregates.base import Actor
from aggregates.webhook_endpoint import WebhookEndpoint
from projections import webhook_deliveries as store
from service.commands.base import Command, Services, handles

SECRET_PREFIX = "whsec_"
ROTATION_GRACE = timedelta(hours=24)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class RegisterWebhookEndpoint(Command[tuple[WebhookEndpoint, str]]):
    """Answers the endpoint and its signing secret (shown once). `url` and
    `event_types` come checked by the caller (service/webhooks/safety.py)."""

    partner_id: UUID
    url: str
    event_types: tuple[str, ...]
    description: str | None
    endpoint_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True)
class ChangeWebhookEndpoint(Command[WebhookEndpoint]):
    partner_id: UUID
    endpoint_id: UUID
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: Any = ...  # None clears it; ... leaves it
    status: str | None = None


@dataclass(frozen=True)
class RotateWebhookSecret(Command[str]):
    """Answers the new secret; the previous one is honoured for 24 h more."""

    partner_id: UUID
    endpoint_id: UUID


@dataclass(frozen=True)
class DeleteWebhookEndpoint(Command[None]):
    partner_id: UUID
    endpoint_id: UUID


@dataclass(frozen=True)
class DisableWebhookEndpoint(Command[bool]):
    """The deliverer gave up on the endpoint (days of failures); answers whether it was
    enabled until now."""

    catches_up = False
    partner_id: UUID
    endpoint_id: UUID
    reason: str


def _endpoint(s: Services, partner_id: UUID, endpoint_id: UUID) -> WebhookEndpoint:
    return s.app.load(WebhookEndpoint, endpoint_id, partner_id=partner_id)


@handles(RegisterWebhookEndpoint)
def register_webhook_endpoint(s: Services, c: RegisterWebhookEndpoint, actor: Actor,
                              now: datetime) -> tuple[WebhookEndpoint, str]:
    s.app.partner(c.partner_id)
    endpoint = WebhookEndpoint.register(
        id=c.endpoint_id, partner_id=c.partner_id, url=c.url, event_types=list(c.event_types),
        description=c.description, actor=actor, at=now)
    s.app.save(endpoint)
    secret = new_secret()
    with s.read_model.writing() as sql:
        store.put_secret(sql, endpoint_id=str(endpoint.id), version=1, secret=secret)
    return endpoint, secret


@handles(ChangeWebhookEndpoint)
def change_webhook_endpoint(s: Services, c: ChangeWebhookEndpoint, actor: Actor,
                            now: datetime) -> WebhookEndpoint:
    endpoint = _endpoint(s, c.partner_id, c.endpoint_id)
    endpoint.change(url=c.url, event_types=None if c.event_types is None else
                    list(c.event_types), description=c.description, status=c.status,
                    actor=actor, at=now)
    s.app.save(endpoint)
    return endpoint


@handles(RotateWebhookSecret)
def rotate_webhook_secret(s: Services, c: RotateWebhookSecret, actor: Actor,
                          now: datetime) -> str:
    endpoint = _endpoint(s, c.partner_id, c.endpoint_id)
    expires = now + ROTATION_GRACE
    version = endpoint.rotate_secret(previous_expires_at=expires, actor=actor, at=now)
    s.app.save(endpoint)
    secret = new_secret()
    with s.read_model.writing() as sql:
        store.put_secret(sql, endpoint_id=str(endpoint.id), version=version, secret=secret,
                         previous_expires_at=expires)
    return secret


@handles(DeleteWebhookEndpoint)
def delete_webhook_endpoint(s: Services, c: DeleteWebhookEndpoint, actor: Actor,
                            now: datetime) -> None:
    endpoint = _endpoint(s, c.partner_id, c.endpoint_id)
    endpoint.delete(actor=actor, at=now)
    s.app.save(endpoint)
    with s.read_model.writing() as sql:
        store.drop_secrets(sql, endpoint_id=str(endpoint.id))


@handles(DisableWebhookEndpoint)
def disable_webhook_endpoint(s: Services, c: DisableWebhookEndpoint, actor: Actor,
                             now: datetime) -> bool:
    endpoint = _endpoint(s, c.partner_id, c.endpoint_id)
    if endpoint.status != "enabled":
        return False
    endpoint.disable(reason=c.reason, actor=actor, at=now)
    s.app.save(endpoint)
    return True

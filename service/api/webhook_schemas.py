"""Request bodies and public representations of the events feed and webhook endpoints
(API.md, "Events and webhooks"). One representation per resource, so /openapi.json
documents each answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from service.api.answers import Page
from service.api.schemas import Body

EventTypePattern = Annotated[str, Field(
    min_length=1, max_length=64, pattern=r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$",
    description="A public event type (`invoice.paid`), a resource's types (`invoice.*`) "
                "or every type (`*`).", examples=["invoice.*"])]
Url = Annotated[str, Field(min_length=1, max_length=2000,
                           examples=["https://hooks.example.com/ledger"])]
Description = Annotated[str, Field(max_length=500)]


class WebhookEndpointCreate(Body):
    url: Url
    event_types: list[EventTypePattern] = Field(min_length=1, max_length=50)
    description: Description | None = None


class WebhookEndpointChange(Body):
    url: Url | None = None
    event_types: list[EventTypePattern] | None = Field(default=None, min_length=1,
                                                       max_length=50)
    description: Description | None = None
    status: Literal["enabled", "disabled"] | None = None


class PublicEvent(BaseModel):
    id: str = Field(description="Stable for ever; receivers dedupe on it (`webhook-id`).")
    type: str
    created: str
    data: dict[str, Any] = Field(description="The resource as the API answers it then.")


EventPage = Page[PublicEvent]


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None = None
    created_at: str
    updated_at: str | None = None
    secret: str | None = Field(default=None, description="Only in the answer that created "
                               "the endpoint (`whsec_…`); never shown again.")


WebhookEndpointPage = Page[WebhookEndpointOut]


class WebhookSecret(BaseModel):
    secret: str = Field(description="The new `whsec_…` secret, shown once; the previous "
                        "one still signs for 24 hours.")


class DeliveryAttempt(BaseModel):
    at: str
    status_code: int | None
    error: str | None


class WebhookDelivery(BaseModel):
    id: str
    event_id: str
    event_type: str
    attempts: list[DeliveryAttempt]
    status: Literal["pending", "delivered", "failed"]
    next_attempt_at: str | None
    created_at: str


WebhookDeliveryPage = Page[WebhookDelivery]

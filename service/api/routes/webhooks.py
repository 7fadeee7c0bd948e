"""Webhook endpoints of a partner (partner admin): register (the secret is shown once),
read, change, delete, rotate the secret, and see or redeliver deliveries. Sending is the
delivery runner's (service/webhooks/deliverer.py), never a request's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status

from aggregates.errors import InvalidInput, NotFound
from projections import public_events
from projections import webhook_deliveries as deliveries
from projections import webhook_endpoints as view
from service.api.auth import Context, partner_access
from service.api.idempotency import withholds
from service.api.paging import PageDep
from service.api.webhook_schemas import (
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpointChange,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointPage,
    WebhookSecret,
)
from service.commands import execute
from service.commands.webhooks import (
    ChangeWebhookEndpoint,
    DeleteWebhookEndpoint,
    RegisterWebhookEndpoint,
    RotateWebhookSecret,
)
from service.webhooks.safety import check_url

router = APIRouter(prefix="/v1/partners/{pid}/webhook-endpoints",
                   tags=["events and webhooks"])
MANAGE = "webhooks.manage"


def _types(patterns: list[str]) -> tuple[str, ...]:
    unknown = [p for p in patterns if not public_events.valid_pattern(p)]
    if unknown:
        raise InvalidInput(f"unknown event types {unknown}; known: "
                           + ", ".join(public_events.TYPES))
    return tuple(patterns)


def _url(ctx: Context, url: str) -> str:
    return check_url(url, allow_private=ctx.ledger.settings.webhook_allow_private)


def _read(ctx: Context, endpoint_id: UUID) -> dict[str, Any]:
    found = ctx.ledger.read_model.read(view.get_endpoint, partner_id=str(ctx.partner_id),
                                       endpoint_id=str(endpoint_id))
    if found is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return found


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookEndpointOut,
             dependencies=[withholds("secret")])
def create_endpoint(body: WebhookEndpointCreate,
                    ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    """Registers an endpoint for the given public event types; answers it with its
    signing `secret` (`whsec_…`), shown this once. Deliveries start with the events after
    this moment."""
    endpoint, secret = execute(ctx.ledger, RegisterWebhookEndpoint(
        partner_id=ctx.partner_id, url=_url(ctx, body.url), event_types=_types(body.event_types),
        description=body.description), actor=ctx.actor)
    return {**_read(ctx, endpoint.id), "secret": secret}


@router.get("", response_model=WebhookEndpointPage)
def list_endpoints(page: PageDep, ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    rows, last = ctx.ledger.read_model.read(view.list_endpoints, partner_id=str(ctx.partner_id),
                                            after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.get("/{wid}", response_model=WebhookEndpointOut)
def get_endpoint(wid: UUID, ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    return _read(ctx, wid)


@router.patch("/{wid}", response_model=WebhookEndpointOut)
def change_endpoint(wid: UUID, body: WebhookEndpointChange,
                    ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    """Changes the URL, the types, the description (null clears it) or the status
    (`enabled` resumes deliveries where they stopped, in order)."""
    _read(ctx, wid)
    execute(ctx.ledger, ChangeWebhookEndpoint(
        partner_id=ctx.partner_id, endpoint_id=wid,
        url=None if body.url is None else _url(ctx, body.url),
        event_types=None if body.event_types is None else _types(body.event_types),
        description=body.description if "description" in body.model_fields_set else ...,
        status=body.status), actor=ctx.actor)
    return _read(ctx, wid)


@router.delete("/{wid}", status_code=status.HTTP_204_NO_CONTENT)
def delete_endpoint(wid: UUID, ctx: Context = partner_access(MANAGE)) -> Response:
    _read(ctx, wid)
    execute(ctx.ledger, DeleteWebhookEndpoint(partner_id=ctx.partner_id, endpoint_id=wid),
            actor=ctx.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{wid}/rotate-secret", response_model=WebhookSecret,
             dependencies=[withholds("secret")])
def rotate_secret(wid: UUID, ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    """A new signing secret, shown once; deliveries carry a signature by each of the new
    and the previous secret for 24 hours, then by the new one only."""
    _read(ctx, wid)
    secret = execute(ctx.ledger, RotateWebhookSecret(partner_id=ctx.partner_id,
                                                     endpoint_id=wid), actor=ctx.actor)
    return {"secret": secret}


@router.get("/{wid}/deliveries", response_model=WebhookDeliveryPage)
def list_deliveries(wid: UUID, page: PageDep,
                    ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    """The endpoint's deliveries in event order, each with its attempts."""
    _read(ctx, wid)
    rows, last = ctx.ledger.read_model.read(deliveries.list_deliveries, endpoint_id=str(wid),
                                            after_key=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.post("/{wid}/deliveries/{did}/retry", response_model=WebhookDelivery)
def redeliver(wid: UUID, did: str, ctx: Context = partner_access(MANAGE)) -> dict[str, Any]:
    """Sends the delivery again (the delivery runner sends it next, ahead of the endpoint's
    later events); answers it, pending."""
    _read(ctx, wid)
    with ctx.ledger.read_model.writing() as sql:
        found = deliveries.redeliver(sql, endpoint_id=str(wid), delivery_id=did[:100],
                                     now=ctx.ledger.clock.now())
    if not found:
        raise NotFound(f"no delivery {did[:100]}")
    answer = ctx.ledger.read_model.read(deliveries.get_delivery, endpoint_id=str(wid),
                                        delivery_id=did[:100])
    assert answer is not None
    return answer

"""The public events feed: what happened to a partner, in the public vocabulary
(projections/public_events.py), live or as of a past moment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from projections import public_events
from projections.times import stored
from service.api.auth import Context, partner_access
from service.api.fields import Instant
from service.api.paging import AsOf, PageDep
from service.api.problems import ApiProblem
from service.api.webhook_schemas import EventPage

router = APIRouter(prefix="/v1/partners/{pid}", tags=["events and webhooks"])
MAX_PATTERNS = 20


def type_patterns(value: str | None) -> list[str]:
    """`type=invoice.*,line.flagged`: each a known type, `<resource>.*` or `*`; 422
    otherwise."""
    if value is None:
        return []
    patterns = [p.strip() for p in value.split(",")]
    if len(patterns) > MAX_PATTERNS or not all(public_events.valid_pattern(p)
                                               for p in patterns):
        raise ApiProblem(422, "validation_error",
                         "type takes up to 20 comma-separated public event types, "
                         "`<resource>.*` or `*`; known types: "
                         + ", ".join(public_events.TYPES))
    return patterns


@router.get("/events", response_model=EventPage)
def list_events(page: PageDep, as_of: AsOf = None,
                type: Annotated[str | None, Query(max_length=1000)] = None,
                since: Instant | None = None, until: Instant | None = None,
                ctx: Context = partner_access("events.read")) -> dict[str, Any]:
    """The partner's public events in the order they happened: `{id, type, created,
    data}`, `data` being the resource as the API answered it then. `type` filters
    (`invoice.*`, `line.flagged,line.sending_paused`); `since`/`until` bound `created`;
    `as_of` stops at that moment."""
    patterns = type_patterns(type)
    views = ctx.views(as_of)
    rows, last = ctx.ledger.read_model.read(
        public_events.feed, partner_id=str(ctx.partner_id), types=patterns,
        since=stored(since) if since else None, until=stored(until) if until else None,
        after_key=page.after, limit=page.limit, until_position=views.position)
    return page.answer(rows, last)

"""Alerts: what a partner should act on, raised by the daily alerts job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from projections import alerts as view
from projections.as_of import resolve
from service.api.answers import Alert, Page, answering
from service.api.auth import Context, partner_access
from service.api.paging import AsOf, PageDep

router = APIRouter(prefix="/v1/partners/{pid}/alerts", tags=["alerts"])


@router.get("", **answering(Page[Alert]))
def list_alerts(page: PageDep, as_of: AsOf = None,
                status: Annotated[Literal["open", "resolved", "all"],
                                  Query(description="Which alerts to list.")] = "open",
                ctx: Context = partner_access("alerts.read")) -> dict[str, Any]:
    """The partner's alerts in the order they were raised (open ones by default).

    Kinds: `card_expiring` (the default card expires before the next billing date),
    `line_flagged` (a line flagged for over 7 days), `line_idle` (a line idle in the
    Available pool for over 30 days), `payment_failed` (an invoice is past due after a
    failed payment), `job_failed` (a scheduled job — `subject_id` `cycle_close`, `dunning`
    or `alerts` — failed for this partner; resolved when it next succeeds for it). A job
    at 00:00 UTC each day raises the others (so moving the manual clock
    past midnight raises what fell due) and resolves those whose condition has ended.
    `pricing_change_requested` (the partner admin asked for another price; for support)
    is raised by the request itself and stays open.
    Each is raised once per occurrence, named by its `key` (e.g.
    `line_flagged:<line id>:<flagged at>`).

    Item: `{key, kind, subject_id, message, data, status, raised_at, resolved_at,
    resolution, position}`; paged with `limit`/`cursor`; `as_of` reads the list as it
    stood then.
    """
    with ctx.ledger.read_model.reading() as sql:
        position = resolve(sql, as_of, now=ctx.ledger.clock.now()).position \
            if as_of is not None else None
    rows, last = ctx.ledger.read_model.read(
        view.list_alerts, partner_id=str(ctx.partner_id), status=status, as_of=position,
        after_position=page.after, limit=page.limit)
    return page.answer(rows, last)

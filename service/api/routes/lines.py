"""Lines: provisioning, the status machine's commands, the list, overview, pool, history."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, status

from aggregates.errors import NotFound
from aggregates.line import Line as LineAggregate
from projections import audit
from projections import lines as view
from service.api.answers import AvailableLine, Line, LinesOverview, Page, answering
from service.api.auth import Context, partner_access
from service.api.command_answers import as_left
from service.api.operations_answers import AuditEvent
from service.api.paging import AsOf, PageDep
from service.api.representations import line_json
from service.api.request_routes import RequestingResource, add_request_routes
from service.api.schemas import Flag, LineAssign, LineProvision
from service.commands.execute import Done, run
from service.commands.lines import (
    ApproveLineDelete,
    ApproveLineMove,
    AssignLine,
    CancelLineDelete,
    CancelLineMove,
    FlagLine,
    LineCommand,
    PauseSending,
    ProvisionLine,
    RejectLineDelete,
    RejectLineMove,
    RequestLineDelete,
    RequestLineMove,
    ResumeSending,
    UnassignLine,
    UnflagLine,
)

router = APIRouter(prefix="/v1/partners/{pid}/lines", tags=["lines"])
Status = Literal["available", "active", "flagged", "move_requested", "delete_requested",
                 "deleted"]


def _answer(ctx: Context, line_id: UUID, done: Done[Any]) -> dict[str, Any]:
    # The line the command saved, or, when the catch-up ran the policies (auto-pause on
    # flag), loaded again so that the answer shows their effect too.
    return line_json(as_left(done, LineAggregate, line_id,
                             lambda: ctx.ledger.app.line(ctx.partner_id, line_id)))


def _run(ctx: Context, command: LineCommand) -> dict[str, Any]:
    return _answer(ctx, command.line_id, run(ctx.ledger, command, actor=ctx.actor))


@router.post("", status_code=status.HTTP_201_CREATED, **answering(Line))
def provision(body: LineProvision | None = None,
              ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    body = body or LineProvision()
    done = run(ctx.ledger, ProvisionLine(partner_id=ctx.partner_id,
                                         phone_number=body.phone_number,
                                         sub_account_id=body.sub_account_id),
               actor=ctx.actor)
    return _answer(ctx, done.answer.id, done)


@router.get("", **answering(Page[Line]))
def list_(page: PageDep, as_of: AsOf = None, status: Status | None = None,
          sub_account_id: UUID | None = None,
          ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    rows, last = ctx.views(as_of).read(
        view.list_lines, partner_id=str(ctx.partner_id), status=status,
        sub_account_id=str(sub_account_id) if sub_account_id else None,
        after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.get("/overview", **answering(LinesOverview))
def overview(as_of: AsOf = None, ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    return ctx.views(as_of).read(view.overview, partner_id=str(ctx.partner_id))


@router.get("/available-pool", **answering(Page[AvailableLine]))
def available_pool(page: PageDep, as_of: AsOf = None,
                   ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    views = ctx.views(as_of)
    rows, last = views.read(
        view.available_pool, partner_id=str(ctx.partner_id), now=views.now,
        after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.get("/{lid}", **answering(Line))
def get(lid: UUID, as_of: AsOf = None,
        ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    row = ctx.views(as_of).read(view.get_line, partner_id=str(ctx.partner_id),
                                line_id=str(lid))
    if row is None:
        raise NotFound(f"no line {lid}")
    return row


@router.get("/{lid}/history", **answering(Page[AuditEvent]))
def history(lid: UUID, page: PageDep, as_of: AsOf = None,
            ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    views = ctx.views(as_of)
    get(lid, as_of, ctx)
    rows, last = ctx.ledger.read_model.read(
        audit.trail, partner_id=str(ctx.partner_id), entity_id=str(lid),
        after_position=page.after, limit=page.limit, until_position=views.position)
    return page.answer(rows, last)


@router.post("/{lid}/assign", **answering(Line))
def assign(lid: UUID, body: LineAssign,
           ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, AssignLine(partner_id=ctx.partner_id, line_id=lid,
                                sub_account_id=body.sub_account_id))


@router.post("/{lid}/unassign", **answering(Line))
def unassign(lid: UUID, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, UnassignLine(partner_id=ctx.partner_id, line_id=lid))


@router.post("/{lid}/flag", **answering(Line))
def flag(lid: UUID, body: Flag, ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    return _run(ctx, FlagLine(partner_id=ctx.partner_id, line_id=lid, reason=body.reason))


@router.post("/{lid}/unflag", **answering(Line))
def unflag(lid: UUID, ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    return _run(ctx, UnflagLine(partner_id=ctx.partner_id, line_id=lid))


@router.post("/{lid}/pause", **answering(Line))
def pause(lid: UUID, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, PauseSending(partner_id=ctx.partner_id, line_id=lid))


@router.post("/{lid}/resume", **answering(Line))
def resume(lid: UUID, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, ResumeSending(partner_id=ctx.partner_id, line_id=lid))


LINES = RequestingResource(id_param="lid", id_field="line_id", write_permission="lines.write",
                           answer=Line, run=_run)
add_request_routes(router, LINES, name="move", path="/{lid}/move-request",
                   request=RequestLineMove, approve=ApproveLineMove, reject=RejectLineMove,
                   cancel=CancelLineMove, body=LineAssign)
add_request_routes(router, LINES, name="delete", path="/{lid}/delete-request",
                   request=RequestLineDelete, approve=ApproveLineDelete,
                   reject=RejectLineDelete, cancel=CancelLineDelete)

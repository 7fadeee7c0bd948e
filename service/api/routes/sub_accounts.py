"""Sub-accounts: create, rename, merge and delete flows, campaigns, reads."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, status

from aggregates.errors import NotFound
from projections import sub_accounts as view
from service.api.answers import CampaignStarted, Page, SubAccount, answering
from service.api.auth import Context, partner_access
from service.api.paging import AsOf, PageDep
from service.api.representations import sub_account_json
from service.api.schemas import CampaignStart, MergeRequest, Reason, SubAccountCreate
from service.commands import execute
from service.commands.sub_accounts import (
    ApproveMerge,
    ApproveSubAccountDelete,
    CancelMerge,
    CancelSubAccountDelete,
    CreateSubAccount,
    EndCampaign,
    RejectMerge,
    RejectSubAccountDelete,
    RenameSubAccount,
    RequestMerge,
    RequestSubAccountDelete,
    StartCampaign,
    SubAccountCommand,
)

router = APIRouter(prefix="/v1/partners/{pid}/sub-accounts", tags=["sub-accounts"])
Status = Literal["active", "merge_requested", "delete_requested", "merged", "deleted"]


def _answer(ctx: Context, sub_account_id: UUID) -> dict[str, Any]:
    return sub_account_json(ctx.ledger.app.sub_account(ctx.partner_id, sub_account_id))


def _run(ctx: Context, command: SubAccountCommand) -> dict[str, Any]:
    execute(ctx.ledger, command, actor=ctx.actor)
    return _answer(ctx, command.sub_account_id)


@router.post("", status_code=status.HTTP_201_CREATED, **answering(SubAccount))
def create(body: SubAccountCreate, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    sub = execute(ctx.ledger, CreateSubAccount(partner_id=ctx.partner_id, name=body.name),
                  actor=ctx.actor)
    return _answer(ctx, sub.id)


@router.get("", **answering(Page[SubAccount]))
def list_(page: PageDep, as_of: AsOf = None, status: Status | None = None,
          ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    rows, last = ctx.views(as_of).read(
        view.list_sub_accounts, partner_id=str(ctx.partner_id), status=status,
        after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.get("/{sid}", **answering(SubAccount))
def get(sid: UUID, as_of: AsOf = None,
        ctx: Context = partner_access("lines.read")) -> dict[str, Any]:
    row = ctx.views(as_of).read(view.get_sub_account, partner_id=str(ctx.partner_id),
                                sub_account_id=str(sid))
    if row is None:
        raise NotFound(f"no sub-account {sid}")
    return row


@router.patch("/{sid}", **answering(SubAccount))
def rename(sid: UUID, body: SubAccountCreate,
           ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, RenameSubAccount(partner_id=ctx.partner_id, sub_account_id=sid,
                                      name=body.name))


@router.post("/{sid}/campaigns", status_code=status.HTTP_201_CREATED,
             **answering(CampaignStarted))
def start_campaign(sid: UUID, body: CampaignStart,
                   ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    _, campaign_id = execute(ctx.ledger, StartCampaign(partner_id=ctx.partner_id,
                                                       sub_account_id=sid, name=body.name),
                             actor=ctx.actor)
    return {"campaign_id": str(campaign_id), "sub_account": _answer(ctx, sid)}


@router.post("/{sid}/campaigns/{cid}/end", **answering(SubAccount))
def end_campaign(sid: UUID, cid: UUID,
                 ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, EndCampaign(partner_id=ctx.partner_id, sub_account_id=sid,
                                 campaign_id=cid))


@router.post("/{sid}/merge-request", **answering(SubAccount))
def request_merge(sid: UUID, body: MergeRequest,
                  ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, RequestMerge(partner_id=ctx.partner_id, sub_account_id=sid,
                                  primary_id=body.primary_id))


@router.post("/{sid}/merge-request/approve", **answering(SubAccount))
def approve_merge(sid: UUID, ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    return _run(ctx, ApproveMerge(partner_id=ctx.partner_id, sub_account_id=sid))


@router.post("/{sid}/merge-request/reject", **answering(SubAccount))
def reject_merge(sid: UUID, body: Reason | None = None,
                 ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    return _run(ctx, RejectMerge(partner_id=ctx.partner_id, sub_account_id=sid,
                                 reason=body.reason if body else None))


@router.post("/{sid}/merge-request/cancel", **answering(SubAccount))
def cancel_merge(sid: UUID, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, CancelMerge(partner_id=ctx.partner_id, sub_account_id=sid))


@router.post("/{sid}/delete-request", **answering(SubAccount))
def request_delete(sid: UUID, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, RequestSubAccountDelete(partner_id=ctx.partner_id, sub_account_id=sid))


@router.post("/{sid}/delete-request/approve", **answering(SubAccount))
def approve_delete(sid: UUID, ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    return _run(ctx, ApproveSubAccountDelete(partner_id=ctx.partner_id, sub_account_id=sid))


@router.post("/{sid}/delete-request/reject", **answering(SubAccount))
def reject_delete(sid: UUID, body: Reason | None = None,
                  ctx: Context = partner_access("support.act")) -> dict[str, Any]:
    return _run(ctx, RejectSubAccountDelete(partner_id=ctx.partner_id, sub_account_id=sid,
                                            reason=body.reason if body else None))


@router.post("/{sid}/delete-request/cancel", **answering(SubAccount))
def cancel_delete(sid: UUID, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, CancelSubAccountDelete(partner_id=ctx.partner_id, sub_account_id=sid))

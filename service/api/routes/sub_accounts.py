"""Sub-accounts: create, rename, merge and delete flows, campaigns, reads."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, status

from aggregates.errors import NotFound
from aggregates.sub_account import SubAccount as SubAccountAggregate
from projections import sub_accounts as view
from service.api.answers import CampaignStarted, Page, SubAccount, answering
from service.api.auth import Context, partner_access
from service.api.command_answers import as_left
from service.api.paging import AsOf, PageDep
from service.api.representations import sub_account_json
from service.api.request_routes import RequestingResource, add_request_routes
from service.api.schemas import CampaignStart, MergeRequest, SubAccountCreate
from service.commands.execute import Done, run
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


def _answer(ctx: Context, sub_account_id: UUID, done: Done[Any]) -> dict[str, Any]:
    # The sub-account the command saved, or loaded again when the catch-up ran policies.
    return sub_account_json(as_left(
        done, SubAccountAggregate, sub_account_id,
        lambda: ctx.ledger.app.sub_account(ctx.partner_id, sub_account_id)))


def _run(ctx: Context, command: SubAccountCommand) -> dict[str, Any]:
    return _answer(ctx, command.sub_account_id, run(ctx.ledger, command, actor=ctx.actor))


@router.post("", status_code=status.HTTP_201_CREATED, **answering(SubAccount))
def create(body: SubAccountCreate, ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    done = run(ctx.ledger, CreateSubAccount(partner_id=ctx.partner_id, name=body.name),
               actor=ctx.actor)
    return _answer(ctx, done.answer.id, done)


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
    done = run(ctx.ledger, StartCampaign(partner_id=ctx.partner_id, sub_account_id=sid,
                                         name=body.name), actor=ctx.actor)
    sub, campaign_id = done.answer
    return {"campaign_id": str(campaign_id),
            "sub_account": _answer(ctx, sid, Done(sub, as_saved=done.as_saved))}


@router.post("/{sid}/campaigns/{cid}/end", **answering(SubAccount))
def end_campaign(sid: UUID, cid: UUID,
                 ctx: Context = partner_access("lines.write")) -> dict[str, Any]:
    return _run(ctx, EndCampaign(partner_id=ctx.partner_id, sub_account_id=sid,
                                 campaign_id=cid))


SUB_ACCOUNTS = RequestingResource(id_param="sid", id_field="sub_account_id",
                                  write_permission="lines.write", answer=SubAccount, run=_run)
add_request_routes(router, SUB_ACCOUNTS, name="merge", path="/{sid}/merge-request",
                   request=RequestMerge, approve=ApproveMerge, reject=RejectMerge,
                   cancel=CancelMerge, body=MergeRequest)
add_request_routes(router, SUB_ACCOUNTS, name="delete", path="/{sid}/delete-request",
                   request=RequestSubAccountDelete, approve=ApproveSubAccountDelete,
                   reject=RejectSubAccountDelete, cancel=CancelSubAccountDelete)

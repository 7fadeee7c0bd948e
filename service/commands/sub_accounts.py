"""Sub-account commands: create, rename, campaigns, merges and deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from aggregates.base import Actor, LedgerAggregate
from aggregates.claim import Claim
from aggregates.errors import DuplicateName, InvalidTransition
from aggregates.sub_account import DELETE, MERGE, SubAccount, normalise_name
from service.commands.application import NAME
from service.commands.base import Command, Services, handles
from service.commands.request_steps import RequestFlow, request_commands


@dataclass(frozen=True)
class SubAccountCommand(Command[SubAccount]):
    """A command on one of the partner's sub-accounts; answers it as saved."""

    partner_id: UUID
    sub_account_id: UUID


@dataclass(frozen=True)
class CreateSubAccount(Command[SubAccount]):
    partner_id: UUID
    name: str


@dataclass(frozen=True)
class RenameSubAccount(SubAccountCommand):
    name: str


@dataclass(frozen=True)
class StartCampaign(Command[tuple[SubAccount, UUID]]):
    """Answers the sub-account and the new campaign's id."""

    partner_id: UUID
    sub_account_id: UUID
    name: str


@dataclass(frozen=True)
class EndCampaign(SubAccountCommand):
    campaign_id: UUID


@dataclass(frozen=True)
class RequestMerge(SubAccountCommand):
    primary_id: UUID


@dataclass(frozen=True)
class ApproveMerge(SubAccountCommand):
    pass


@dataclass(frozen=True)
class RejectMerge(SubAccountCommand):
    reason: str | None = None


@dataclass(frozen=True)
class CancelMerge(SubAccountCommand):
    pass


@dataclass(frozen=True)
class RequestSubAccountDelete(SubAccountCommand):
    pass


@dataclass(frozen=True)
class ApproveSubAccountDelete(SubAccountCommand):
    pass


@dataclass(frozen=True)
class RejectSubAccountDelete(SubAccountCommand):
    reason: str | None = None


@dataclass(frozen=True)
class CancelSubAccountDelete(SubAccountCommand):
    pass


@handles(CreateSubAccount)
def create_sub_account(s: Services, c: CreateSubAccount, actor: Actor,
                       now: datetime) -> SubAccount:
    return s.app.create_sub_account(partner_id=c.partner_id, name=c.name, actor=actor, at=now)


@handles(RenameSubAccount)
def rename_sub_account(s: Services, c: RenameSubAccount, actor: Actor,
                       now: datetime) -> SubAccount:
    """The new name is claimed and the old one freed in the same transaction."""
    sub = s.app.sub_account(c.partner_id, c.sub_account_id)
    old = normalise_name(sub.name)
    sub.rename(name=c.name, actor=actor, at=now)
    new = normalise_name(sub.name)
    if new == old:
        s.app.save(sub)
        return sub
    claim = s.app.claim(kind=NAME, partner_id=c.partner_id, value=new, holder_id=sub.id,
                        refusal=DuplicateName, actor=actor, at=now)
    released = s.app.release(kind=NAME, partner_id=c.partner_id, value=old, holder_id=sub.id,
                             actor=actor, at=now)
    s.app.save(sub, claim, released)
    return sub


@handles(StartCampaign)
def start_campaign(s: Services, c: StartCampaign, actor: Actor,
                   now: datetime) -> tuple[SubAccount, UUID]:
    sub = s.app.sub_account(c.partner_id, c.sub_account_id)
    campaign_id = uuid4()
    sub.start_campaign(campaign_id=campaign_id, name=c.name, actor=actor, at=now)
    s.app.save(sub)
    return sub, campaign_id


def _sub_account(s: Services, c: SubAccountCommand) -> SubAccount:
    return s.app.sub_account(c.partner_id, c.sub_account_id)


@handles(EndCampaign)
def end_campaign(s: Services, c: EndCampaign, actor: Actor, now: datetime) -> SubAccount:
    sub = _sub_account(s, c)
    sub.end_campaign(campaign_id=c.campaign_id, actor=actor, at=now)
    s.app.save(sub)
    return sub


def _release_name(s: Services, sub: SubAccount, actor: Actor, now: datetime) -> Claim:
    """An ended (merged or deleted) sub-account's name is free for a new one."""
    return s.app.release(kind=NAME, partner_id=sub.partner_id, value=normalise_name(sub.name),
                         holder_id=sub.id, actor=actor, at=now)


def _request_merge(s: Services, c: RequestMerge, sub: SubAccount, actor: Actor,
                   now: datetime) -> list[LedgerAggregate]:
    primary = s.app.target_sub_account(c.partner_id, c.primary_id)
    sub.request_merge(primary=primary, actor=actor, at=now)
    return []


def _approve_merge(s: Services, c: ApproveMerge, sub: SubAccount, actor: Actor,
                   now: datetime) -> list[LedgerAggregate]:
    """The lines move to the primary and the merged sub-account's name is freed, in one
    transaction."""
    if sub.requested_primary_id is None:
        raise InvalidTransition(f"cannot approve a merge of a sub-account that is {sub.status}")
    primary = s.app.sub_account(c.partner_id, sub.requested_primary_id)
    line_ids = sub.approve_merge(primary=primary, actor=actor, at=now)
    lines = [s.app.line(c.partner_id, line_id) for line_id in line_ids]
    for line in lines:
        line.move_by_merge(to_sub_account_id=primary.id, cause=f"merge:{sub.id}",
                           actor=actor, at=now)
    return [primary, _release_name(s, sub, actor, now), *lines]


def _request_delete(s: Services, c: RequestSubAccountDelete, sub: SubAccount, actor: Actor,
                    now: datetime) -> list[LedgerAggregate]:
    sub.request_delete(actor=actor, at=now)  # refused while it holds lines or campaigns
    return []


def _approve_delete(s: Services, c: ApproveSubAccountDelete, sub: SubAccount, actor: Actor,
                    now: datetime) -> list[LedgerAggregate]:
    sub.approve(DELETE, actor=actor, at=now)
    return [_release_name(s, sub, actor, now)]


request_commands(RequestFlow(MERGE, load=_sub_account, request=_request_merge,
                             approve=_approve_merge),
                 request=RequestMerge, approve=ApproveMerge, reject=RejectMerge,
                 cancel=CancelMerge)
request_commands(RequestFlow(DELETE, load=_sub_account, request=_request_delete,
                             approve=_approve_delete),
                 request=RequestSubAccountDelete, approve=ApproveSubAccountDelete,
                 reject=RejectSubAccountDelete, cancel=CancelSubAccountDelete)

"""Line commands: provisioning, assignment, flags, sending, moves and deletion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidTransition
from aggregates.line import DELETE, MOVE, Line
from aggregates.sub_account import ACTIVE
from service.commands.application import PHONE
from service.commands.base import Command, Services, handles
from service.commands.request_steps import RequestFlow, request_commands


@dataclass(frozen=True)
class LineCommand(Command[Line]):
    """A command on one of the partner's lines; answers the line as saved."""

    partner_id: UUID
    line_id: UUID


@dataclass(frozen=True)
class ProvisionLine(Command[Line]):
    partner_id: UUID
    phone_number: str | None = None  # None: the service picks a free number
    sub_account_id: UUID | None = None


@dataclass(frozen=True)
class AssignLine(LineCommand):
    sub_account_id: UUID


@dataclass(frozen=True)
class UnassignLine(LineCommand):
    pass


@dataclass(frozen=True)
class FlagLine(LineCommand):
    reason: str


@dataclass(frozen=True)
class UnflagLine(LineCommand):
    pass


@dataclass(frozen=True)
class PauseSending(LineCommand):
    pass


@dataclass(frozen=True)
class ResumeSending(LineCommand):
    pass


@dataclass(frozen=True)
class RequestLineMove(LineCommand):
    sub_account_id: UUID


@dataclass(frozen=True)
class ApproveLineMove(LineCommand):
    pass


@dataclass(frozen=True)
class RejectLineMove(LineCommand):
    reason: str | None = None


@dataclass(frozen=True)
class CancelLineMove(LineCommand):
    pass


@dataclass(frozen=True)
class RequestLineDelete(LineCommand):
    pass


@dataclass(frozen=True)
class ApproveLineDelete(LineCommand):
    pass


@dataclass(frozen=True)
class RejectLineDelete(LineCommand):
    reason: str | None = None


@dataclass(frozen=True)
class CancelLineDelete(LineCommand):
    pass


@dataclass(frozen=True)
class PauseFlaggedLine(Command[bool]):
    """The auto-pause policy's command: pauses sending once per flag (the flag's event
    version). Answers whether it paused. Runs inside the catch-up that handed it over."""

    catches_up = False
    line_id: UUID
    flag_version: int


@handles(ProvisionLine)
def provision_line(s: Services, c: ProvisionLine, actor: Actor, now: datetime) -> Line:
    return s.app.provision_line(partner_id=c.partner_id, phone_number=c.phone_number,
                                sub_account_id=c.sub_account_id, actor=actor, at=now)


@handles(AssignLine)
def assign_line(s: Services, c: AssignLine, actor: Actor, now: datetime) -> Line:
    line = s.app.line(c.partner_id, c.line_id)
    sub = s.app.target_sub_account(c.partner_id, c.sub_account_id)
    line.assign(sub_account_id=sub.id, actor=actor, at=now)
    sub.attach_line(line_id=line.id, actor=actor, at=now)
    s.app.save(line, sub)
    return line


@handles(UnassignLine)
def unassign_line(s: Services, c: UnassignLine, actor: Actor, now: datetime) -> Line:
    line = s.app.line(c.partner_id, c.line_id)
    previous = line.sub_account_id
    line.unassign(actor=actor, at=now)
    touched: list[LedgerAggregate] = [line]
    if previous is not None:
        sub = s.app.sub_account(c.partner_id, previous)
        sub.detach_line(line_id=line.id, actor=actor, at=now)
        touched.append(sub)
    s.app.save(*touched)
    return line


def _line(s: Services, c: LineCommand) -> Line:
    return s.app.line(c.partner_id, c.line_id)


def _line_alone(s: Services, c: LineCommand, decide: Callable[[Line], None]) -> Line:
    """A command that touches the line alone: the line's own rule decides."""
    line = _line(s, c)
    decide(line)
    s.app.save(line)
    return line


@handles(FlagLine)
def flag_line(s: Services, c: FlagLine, actor: Actor, now: datetime) -> Line:
    return _line_alone(s, c, lambda line: line.flag(reason=c.reason, actor=actor, at=now))


@handles(UnflagLine)
def unflag_line(s: Services, c: UnflagLine, actor: Actor, now: datetime) -> Line:
    return _line_alone(s, c, lambda line: line.unflag(actor=actor, at=now))


@handles(PauseSending)
def pause_sending(s: Services, c: PauseSending, actor: Actor, now: datetime) -> Line:
    return _line_alone(s, c, lambda line: line.pause(actor=actor, at=now))


@handles(ResumeSending)
def resume_sending(s: Services, c: ResumeSending, actor: Actor, now: datetime) -> Line:
    return _line_alone(s, c, lambda line: line.resume(actor=actor, at=now))


def _request_move(s: Services, c: RequestLineMove, line: Line, actor: Actor,
                  now: datetime) -> list[LedgerAggregate]:
    target = s.app.target_sub_account(c.partner_id, c.sub_account_id)
    if target.status != ACTIVE:
        raise InvalidTransition(f"cannot move a line into a sub-account that is "
                                f"{target.status}")
    line.request_move(sub_account_id=target.id, actor=actor, at=now)
    return []


def _approve_move(s: Services, c: ApproveLineMove, line: Line, actor: Actor,
                  now: datetime) -> list[LedgerAggregate]:
    """The line leaves its sub-account for the requested one, in one transaction."""
    if line.requested_sub_account_id is None:
        raise InvalidTransition(f"cannot approve a move of a line that is {line.status}")
    target = s.app.sub_account(c.partner_id, line.requested_sub_account_id)
    touched: list[LedgerAggregate] = [target]
    if line.sub_account_id is not None:
        source = s.app.sub_account(c.partner_id, line.sub_account_id)
        source.detach_line(line_id=line.id, actor=actor, at=now)
        touched.append(source)
    target.attach_line(line_id=line.id, actor=actor, at=now)
    line.approve_move(actor=actor, at=now)
    return touched


def _approve_delete(s: Services, c: ApproveLineDelete, line: Line, actor: Actor,
                    now: datetime) -> list[LedgerAggregate]:
    """The line ends: it leaves its sub-account and frees its number, in one transaction."""
    line.approve(DELETE, actor=actor, at=now)
    touched: list[LedgerAggregate] = []
    if line.sub_account_id is not None:
        sub = s.app.sub_account(c.partner_id, line.sub_account_id)
        sub.detach_line(line_id=line.id, actor=actor, at=now)
        touched.append(sub)
    touched.append(s.app.release(kind=PHONE, partner_id=c.partner_id, value=line.phone_number,
                                 holder_id=line.id, actor=actor, at=now))
    return touched


request_commands(RequestFlow(MOVE, load=_line, request=_request_move, approve=_approve_move),
                 request=RequestLineMove, approve=ApproveLineMove, reject=RejectLineMove,
                 cancel=CancelLineMove)
request_commands(RequestFlow(DELETE, load=_line, approve=_approve_delete),
                 request=RequestLineDelete, approve=ApproveLineDelete, reject=RejectLineDelete,
                 cancel=CancelLineDelete)


@handles(PauseFlaggedLine)
def pause_flagged_line(s: Services, c: PauseFlaggedLine, actor: Actor, now: datetime) -> bool:
    line = s.app.load(Line, c.line_id)
    if line.pause_for_flag(flag_version=c.flag_version, actor=actor, at=now):
        s.app.save(line)
        return True
    return False


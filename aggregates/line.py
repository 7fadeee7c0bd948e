"""The `Line` aggregate: a phone line's status machine and its sending switch.

Statuses follow SPEC's table. Requests remember the status they came from, so that a
cancel (partner) or reject (support) returns the line exactly there.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidTransition
from aggregates.requests import RequestCancelled, RequestKind, RequestRejected, RequestWorkflow
from aggregates.text import clean_text

AVAILABLE = "available"
ACTIVE = "active"
FLAGGED = "flagged"
MOVE_REQUESTED = "move_requested"
DELETE_REQUESTED = "delete_requested"
DELETED = "deleted"
STATUSES = (AVAILABLE, ACTIVE, FLAGGED, MOVE_REQUESTED, DELETE_REQUESTED, DELETED)
LIVE_STATUSES = STATUSES[:-1]

ENABLED = "enabled"
PAUSED = "paused"


class Line(LedgerAggregate, RequestWorkflow):
    NOUN = "line"  # no annotation: the library makes an annotated aggregate a dataclass

    class Provisioned(LedgerAggregate.Created):
        partner_id: UUID
        phone_number: str
        sub_account_id: UUID | None

    class Assigned(LedgerAggregate.Event):
        sub_account_id: UUID

        def apply(self, line: Line) -> None:
            line.status = ACTIVE
            line.sub_account_id = self.sub_account_id

    class Unassigned(LedgerAggregate.Event):
        sub_account_id: UUID

        def apply(self, line: Line) -> None:
            line.status = AVAILABLE
            line.sub_account_id = None

    class Flagged(LedgerAggregate.Event):
        reason: str

        def apply(self, line: Line) -> None:
            line.status = FLAGGED
            line.flag_reason = self.reason
            line.flagged_version = self.originator_version

    class Unflagged(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line.status = ACTIVE
            line.flag_reason = None

    class SendingPaused(LedgerAggregate.Event):
        cause: str | None

        def apply(self, line: Line) -> None:
            line.sending = PAUSED
            if self.cause and self.cause.startswith("flag:"):
                line.paused_for_flag = int(self.cause.removeprefix("flag:"))

    class SendingResumed(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line.sending = ENABLED

    class MoveRequested(LedgerAggregate.Event):
        sub_account_id: UUID

        def apply(self, line: Line) -> None:
            line.status_before_request = line.status
            line.status = MOVE_REQUESTED
            line.requested_sub_account_id = self.sub_account_id

    class MoveApproved(LedgerAggregate.Event):
        from_sub_account_id: UUID | None
        to_sub_account_id: UUID

        def apply(self, line: Line) -> None:
            line.status = ACTIVE
            line.sub_account_id = self.to_sub_account_id
            line.requested_sub_account_id = None
            line.status_before_request = None

    class MoveRejected(RequestRejected):
        pass  # stored with its `reason`

    class MoveCancelled(RequestCancelled):
        pass

    class Moved(LedgerAggregate.Event):
        """Moved by a sub-account merge (`cause` names the merge), not by a request."""

        from_sub_account_id: UUID
        to_sub_account_id: UUID
        cause: str

        def apply(self, line: Line) -> None:
            line.sub_account_id = self.to_sub_account_id
            if line.requested_sub_account_id == self.to_sub_account_id:
                line.end_request()

    class DeleteRequested(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line.status_before_request = line.status
            line.status = DELETE_REQUESTED

    class DeleteApproved(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line.status = DELETED
            line.status_before_request = None

    class DeleteRejected(RequestRejected):
        pass  # stored with its `reason`

    class DeleteCancelled(RequestCancelled):
        pass

    def __init__(self, partner_id: UUID, phone_number: str, sub_account_id: UUID | None) -> None:
        self.partner_id = partner_id
        self.phone_number = phone_number
        self.sub_account_id = sub_account_id
        self.status = ACTIVE if sub_account_id else AVAILABLE
        self.sending = ENABLED
        self.flag_reason: str | None = None
        self.requested_sub_account_id: UUID | None = None
        self.status_before_request: str | None = None
        self.flagged_version: int | None = None
        self.paused_for_flag: int | None = None

    def end_request(self) -> None:
        """A request ended without effect (rejected, cancelled, or met by a merge): the
        line returns to the status it was asked from."""
        assert self.status_before_request is not None
        self.status = self.status_before_request
        self.status_before_request = None
        self.requested_sub_account_id = None

    @classmethod
    def provision(cls, *, id: UUID, partner_id: UUID, phone_number: str,
                  sub_account_id: UUID | None, actor: Actor, at: datetime) -> Line:
        return cls._start(cls.Provisioned, id=id, actor=actor, at=at, partner_id=partner_id,
                          phone_number=phone_number, sub_account_id=sub_account_id)

    def assign(self, *, sub_account_id: UUID, actor: Actor, at: datetime) -> None:
        self._require([AVAILABLE], "assign")
        self._trigger(self.Assigned, actor=actor, at=at, sub_account_id=sub_account_id)

    def unassign(self, *, actor: Actor, at: datetime) -> None:
        self._require([ACTIVE], "unassign")
        self._trigger(self.Unassigned, actor=actor, at=at, sub_account_id=self.sub_account_id)

    def flag(self, *, reason: str, actor: Actor, at: datetime) -> None:
        self._require([ACTIVE], "flag")
        self._trigger(self.Flagged, actor=actor, at=at,
                      reason=clean_text(reason, what="reason"))

    def unflag(self, *, actor: Actor, at: datetime) -> None:
        self._require([FLAGGED], "unflag")
        self._trigger(self.Unflagged, actor=actor, at=at)

    def pause(self, *, actor: Actor, at: datetime, cause: str | None = None) -> None:
        self._require([ACTIVE, FLAGGED], "pause sending on")
        if self.sending == PAUSED:
            raise InvalidTransition("sending is already paused")
        self._trigger(self.SendingPaused, actor=actor, at=at, cause=cause)

    def pause_for_flag(self, *, flag_version: int, actor: Actor, at: datetime) -> bool:
        """The auto-pause policy's command: pauses once per flag, and only while that flag
        stands and the partner has not paused already; True when it recorded a pause."""
        if (self.status != FLAGGED or self.flagged_version != flag_version
                or self.paused_for_flag == flag_version or self.sending == PAUSED):
            return False
        self._trigger(self.SendingPaused, actor=actor, at=at, cause=f"flag:{flag_version}")
        return True

    def resume(self, *, actor: Actor, at: datetime) -> None:
        self._require([ACTIVE, FLAGGED], "resume sending on")
        if self.sending == ENABLED:
            raise InvalidTransition("sending is already enabled")
        self._trigger(self.SendingResumed, actor=actor, at=at)

    def request_move(self, *, sub_account_id: UUID, actor: Actor, at: datetime) -> None:
        self._require(MOVE.may_request, f"request {MOVE.what}")
        if sub_account_id == self.sub_account_id:
            raise InvalidTransition("the line is already in that sub-account")
        self.request(MOVE, actor=actor, at=at, sub_account_id=sub_account_id)

    def approve_move(self, *, actor: Actor, at: datetime) -> None:
        self.approve(MOVE, actor=actor, at=at, from_sub_account_id=self.sub_account_id,
                     to_sub_account_id=self.requested_sub_account_id)

    def move_by_merge(self, *, to_sub_account_id: UUID, cause: str, actor: Actor,
                      at: datetime) -> None:
        self._require(LIVE_STATUSES, "move")
        assert self.sub_account_id is not None
        self._trigger(self.Moved, actor=actor, at=at, from_sub_account_id=self.sub_account_id,
                      to_sub_account_id=to_sub_account_id, cause=cause)


MOVE = RequestKind(what="a move of", may_request=(ACTIVE,), requested=MOVE_REQUESTED,
                   requested_event=Line.MoveRequested, approved_event=Line.MoveApproved,
                   rejected_event=Line.MoveRejected, cancelled_event=Line.MoveCancelled)
DELETE = RequestKind(what="deletion of", may_request=(AVAILABLE, ACTIVE, FLAGGED),
                     requested=DELETE_REQUESTED, requested_event=Line.DeleteRequested,
                     approved_event=Line.DeleteApproved, rejected_event=Line.DeleteRejected,
                     cancelled_event=Line.DeleteCancelled)

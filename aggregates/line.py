"""The `Line` aggregate: a phone line's status machine and its sending switch.

Statuses follow SPEC's table. Requests remember the status they came from, so that a
cancel (partner) or reject (support) returns the line exactly there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidTransition
from aggregates.text import clean_optional_text, clean_text

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


class Line(LedgerAggregate):
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

    class MoveRejected(LedgerAggregate.Event):
        reason: str | None

        def apply(self, line: Line) -> None:
            line._end_request()

    class MoveCancelled(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line._end_request()

    class Moved(LedgerAggregate.Event):
        """Moved by a sub-account merge (`cause` names the merge), not by a request."""

        from_sub_account_id: UUID
        to_sub_account_id: UUID
        cause: str

        def apply(self, line: Line) -> None:
            line.sub_account_id = self.to_sub_account_id
            if line.requested_sub_account_id == self.to_sub_account_id:
                line._end_request()

    class DeleteRequested(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line.status_before_request = line.status
            line.status = DELETE_REQUESTED

    class DeleteApproved(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line.status = DELETED
            line.status_before_request = None

    class DeleteRejected(LedgerAggregate.Event):
        reason: str | None

        def apply(self, line: Line) -> None:
            line._end_request()

    class DeleteCancelled(LedgerAggregate.Event):
        def apply(self, line: Line) -> None:
            line._end_request()

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

    def _end_request(self) -> None:
        assert self.status_before_request is not None
        self.status = self.status_before_request
        self.status_before_request = None
        self.requested_sub_account_id = None

    def _require(self, allowed: Iterable[str], action: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"cannot {action} a line that is {self.status}")

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
        self._require([ACTIVE], "request a move of")
        if sub_account_id == self.sub_account_id:
            raise InvalidTransition("the line is already in that sub-account")
        self._trigger(self.MoveRequested, actor=actor, at=at, sub_account_id=sub_account_id)

    def approve_move(self, *, actor: Actor, at: datetime) -> None:
        self._require([MOVE_REQUESTED], "approve a move of")
        assert self.requested_sub_account_id is not None
        self._trigger(self.MoveApproved, actor=actor, at=at,
                      from_sub_account_id=self.sub_account_id,
                      to_sub_account_id=self.requested_sub_account_id)

    def reject_move(self, *, reason: str | None, actor: Actor, at: datetime) -> None:
        self._require([MOVE_REQUESTED], "reject a move of")
        self._trigger(self.MoveRejected, actor=actor, at=at,
                      reason=clean_optional_text(reason, what="reason"))

    def cancel_move(self, *, actor: Actor, at: datetime) -> None:
        self._require([MOVE_REQUESTED], "cancel a move of")
        self._trigger(self.MoveCancelled, actor=actor, at=at)

    def move_by_merge(self, *, to_sub_account_id: UUID, cause: str, actor: Actor,
                      at: datetime) -> None:
        self._require(LIVE_STATUSES, "move")
        assert self.sub_account_id is not None
        self._trigger(self.Moved, actor=actor, at=at, from_sub_account_id=self.sub_account_id,
                      to_sub_account_id=to_sub_account_id, cause=cause)

    def request_delete(self, *, actor: Actor, at: datetime) -> None:
        self._require([AVAILABLE, ACTIVE, FLAGGED], "request deletion of")
        self._trigger(self.DeleteRequested, actor=actor, at=at)

    def approve_delete(self, *, actor: Actor, at: datetime) -> None:
        self._require([DELETE_REQUESTED], "approve deletion of")
        self._trigger(self.DeleteApproved, actor=actor, at=at)

    def reject_delete(self, *, reason: str | None, actor: Actor, at: datetime) -> None:
        self._require([DELETE_REQUESTED], "reject deletion of")
        self._trigger(self.DeleteRejected, actor=actor, at=at,
                      reason=clean_optional_text(reason, what="reason"))

    def cancel_delete(self, *, actor: Actor, at: datetime) -> None:
        self._require([DELETE_REQUESTED], "cancel deletion of")
        self._trigger(self.DeleteCancelled, actor=actor, at=at)

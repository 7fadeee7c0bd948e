"""The request workflow, declared once: a partner asks (request), support decides (approve
or reject), or the partner withdraws (cancel).

Lines have two kinds of request (move, delete) and sub-accounts two (merge, delete). A
`RequestKind` says, for one of them, which statuses may ask, the status while the request
waits, its four events and the words its refusals use; `RequestWorkflow` holds the guard
and the trigger of each step, so every kind's steps are written here and nowhere else.

The events themselves stay nested in their aggregate (`Line.MoveRequested`, ...): stored
events are decoded by their topic (`aggregates.line:Line.MoveRequested`), so an event's
module, name and fields never move. `RequestRejected` and `RequestCancelled` are only
their shared `apply` (and the rejection's `reason`); a base class is not part of a topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from aggregates.base import Actor, LedgerAggregate
from aggregates.errors import InvalidTransition
from aggregates.text import clean_optional_text


@dataclass(frozen=True)
class RequestKind:
    """One kind of request on one aggregate type."""

    what: str  # how refusals name it: "cannot approve {what} a line that is active"
    may_request: tuple[str, ...]  # the statuses from which it may be asked
    requested: str  # the status while it waits for support
    requested_event: type[LedgerAggregate.Event]
    approved_event: type[LedgerAggregate.Event]
    rejected_event: type[RequestRejected]
    cancelled_event: type[RequestCancelled]


class RequestWorkflow:
    """The steps of every request kind, mixed into `Line` and `SubAccount`.

    `request`/`approve` take the kind's event fields: a kind whose request names a target
    (a move's sub-account, a merge's primary) or whose approval records more has a method
    of its own on the aggregate that checks that and calls these."""

    NOUN: ClassVar[str]  # "line", "sub-account": how refusals name the aggregate
    status: str

    if TYPE_CHECKING:  # given by `LedgerAggregate`, which the aggregate also derives from
        def _trigger(self, event_class: type[LedgerAggregate.Event], *, actor: Actor,
                     at: datetime, **data: Any) -> None: ...

    def _require(self, allowed: Iterable[str], action: str) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"cannot {action} a {self.NOUN} that is {self.status}")

    def request(self, kind: RequestKind, *, actor: Actor, at: datetime,
                **fields: Any) -> None:
        self._require(kind.may_request, f"request {kind.what}")
        self._trigger(kind.requested_event, actor=actor, at=at, **fields)

    def approve(self, kind: RequestKind, *, actor: Actor, at: datetime,
                **fields: Any) -> None:
        self._require([kind.requested], f"approve {kind.what}")
        self._trigger(kind.approved_event, actor=actor, at=at, **fields)

    def reject(self, kind: RequestKind, *, reason: str | None, actor: Actor,
               at: datetime) -> None:
        self._require([kind.requested], f"reject {kind.what}")
        self._trigger(kind.rejected_event, actor=actor, at=at,
                      reason=clean_optional_text(reason, what="reason"))

    def cancel(self, kind: RequestKind, *, actor: Actor, at: datetime) -> None:
        self._require([kind.requested], f"cancel {kind.what}")
        self._trigger(kind.cancelled_event, actor=actor, at=at)


class _Ending(Protocol):
    def end_request(self) -> None: ...


class RequestEnded(LedgerAggregate.Event):
    """A rejected or cancelled request: the aggregate returns to where it was."""

    def apply(self, aggregate: _Ending) -> None:
        aggregate.end_request()


class RequestRejected(RequestEnded):
    """Support said no (`reason`, when given, tells the partner why)."""

    reason: str | None


class RequestCancelled(RequestEnded):
    """The partner withdrew the request."""

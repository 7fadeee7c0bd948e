"""The request workflow on the command side: one handler runs the four steps (request,
approve, reject, cancel) of every request kind (line move and delete, sub-account merge
and delete).

The commands stay typed, one class a step (`RequestLineMove`, `RejectMerge`, ...); each
still has exactly one handler, `run_request_step`, bound to it by `request_commands`. A
kind's `RequestFlow` says only what differs: how its subject is loaded, and what its
request and its approval do besides the aggregate's own step (check a target, move lines,
free a name or a number). The rules themselves stay in the aggregates
(`aggregates/requests.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar, cast

from aggregates.base import Actor, LedgerAggregate
from aggregates.requests import RequestKind, RequestWorkflow
from service.commands.base import Command, Services, handles

Step = Literal["request", "approve", "reject", "cancel"]
S = TypeVar("S", bound=RequestWorkflow)

# A kind's own request or approval: decides on the loaded subject and answers the other
# aggregates it changed, saved after the subject in the same transaction.
Decide = Callable[[Services, Any, S, Actor, datetime], Sequence[LedgerAggregate]]


@dataclass(frozen=True)
class RequestFlow(Generic[S]):
    kind: RequestKind
    load: Callable[[Services, Any], S]  # the subject the command names (404 when absent)
    request: Decide[S] | None = None  # None: the subject's own step and nothing more
    approve: Decide[S] | None = None


class _Rejection(Protocol):
    reason: str | None


_STEPS: dict[type[Command[Any]], tuple[RequestFlow[Any], Step]] = {}


def request_commands(flow: RequestFlow[Any], *, request: type[Command[Any]],
                     approve: type[Command[Any]], reject: type[Command[Any]],
                     cancel: type[Command[Any]]) -> None:
    """Makes `run_request_step` the one handler of a kind's four commands."""
    steps: dict[Step, type[Command[Any]]] = {"request": request, "approve": approve,
                                             "reject": reject, "cancel": cancel}
    for step, command_type in steps.items():
        handles(command_type)(run_request_step)
        _STEPS[command_type] = (flow, step)


def run_request_step(s: Services, c: Command[Any], actor: Actor,
                     now: datetime) -> RequestWorkflow:
    """Loads the subject, lets it (and its kind) decide, saves all it touched in one
    transaction; answers the subject as saved."""
    flow, step = _STEPS[type(c)]
    subject = flow.load(s, c)
    others: Sequence[LedgerAggregate] = ()
    if step == "reject":
        subject.reject(flow.kind, reason=cast(_Rejection, c).reason, actor=actor, at=now)
    elif step == "cancel":
        subject.cancel(flow.kind, actor=actor, at=now)
    else:
        decide = flow.request if step == "request" else flow.approve
        if decide is not None:
            others = decide(s, c, subject, actor, now)
        elif step == "request":
            subject.request(flow.kind, actor=actor, at=now)
        else:
            subject.approve(flow.kind, actor=actor, at=now)
    s.app.save(subject, *others)
    return subject

"""The request workflow declared once (aggregates/requests.py, service/commands/
request_steps.py) still records the events earlier versions stored: same topic, same
fields; and each request kind's commands run through the one handler."""

from __future__ import annotations

import dataclasses
from uuid import uuid4

from eventsourcing.utils import get_topic, resolve_topic

from aggregates import line, sub_account
from aggregates.requests import RequestKind
from service.commands import lines, sub_accounts
from service.commands.base import handler_for
from service.commands.request_steps import run_request_step

# What databases hold today: a topic names the class that decodes the stored event.
STORED_FIELDS = {
    "aggregates.line:Line.MoveRequested": ["sub_account_id"],
    "aggregates.line:Line.MoveApproved": ["from_sub_account_id", "to_sub_account_id"],
    "aggregates.line:Line.MoveRejected": ["reason"],
    "aggregates.line:Line.MoveCancelled": [],
    "aggregates.line:Line.DeleteRequested": [],
    "aggregates.line:Line.DeleteApproved": [],
    "aggregates.line:Line.DeleteRejected": ["reason"],
    "aggregates.line:Line.DeleteCancelled": [],
    "aggregates.sub_account:SubAccount.MergeRequested": ["primary_id"],
    "aggregates.sub_account:SubAccount.MergeApproved": ["primary_id", "line_ids"],
    "aggregates.sub_account:SubAccount.MergeRejected": ["reason"],
    "aggregates.sub_account:SubAccount.MergeCancelled": [],
    "aggregates.sub_account:SubAccount.DeleteRequested": [],
    "aggregates.sub_account:SubAccount.DeleteApproved": [],
    "aggregates.sub_account:SubAccount.DeleteRejected": ["reason"],
    "aggregates.sub_account:SubAccount.DeleteCancelled": [],
}
COMMON = ["originator_id", "originator_version", "timestamp", "actor_id", "actor_role"]
KINDS: list[RequestKind] = [line.MOVE, line.DELETE, sub_account.MERGE, sub_account.DELETE]


def _events(kind: RequestKind) -> list[type]:
    return [kind.requested_event, kind.approved_event, kind.rejected_event,
            kind.cancelled_event]


def test_request_events_keep_their_topics_and_fields() -> None:
    declared = {get_topic(event) for kind in KINDS for event in _events(kind)}

    assert declared == set(STORED_FIELDS)
    for topic, fields in STORED_FIELDS.items():
        event = resolve_topic(topic)
        assert get_topic(event) == topic
        assert [f.name for f in dataclasses.fields(event)] == COMMON + fields


def test_every_request_step_command_runs_through_the_one_handler() -> None:
    ids = {"partner_id": uuid4()}
    steps = [
        lines.RequestLineMove(**ids, line_id=uuid4(), sub_account_id=uuid4()),
        lines.ApproveLineMove(**ids, line_id=uuid4()),
        lines.RejectLineMove(**ids, line_id=uuid4(), reason="no"),
        lines.CancelLineMove(**ids, line_id=uuid4()),
        lines.RequestLineDelete(**ids, line_id=uuid4()),
        lines.ApproveLineDelete(**ids, line_id=uuid4()),
        lines.RejectLineDelete(**ids, line_id=uuid4()),
        lines.CancelLineDelete(**ids, line_id=uuid4()),
        sub_accounts.RequestMerge(**ids, sub_account_id=uuid4(), primary_id=uuid4()),
        sub_accounts.ApproveMerge(**ids, sub_account_id=uuid4()),
        sub_accounts.RejectMerge(**ids, sub_account_id=uuid4()),
        sub_accounts.CancelMerge(**ids, sub_account_id=uuid4()),
        sub_accounts.RequestSubAccountDelete(**ids, sub_account_id=uuid4()),
        sub_accounts.ApproveSubAccountDelete(**ids, sub_account_id=uuid4()),
        sub_accounts.RejectSubAccountDelete(**ids, sub_account_id=uuid4()),
        sub_accounts.CancelSubAccountDelete(**ids, sub_account_id=uuid4()),
    ]

    assert all(handler_for(command) is run_request_step for command in steps)

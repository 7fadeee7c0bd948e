"""Usage ingestion: batches of per-line, per-hour messaging figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aggregates.usage import MAX_BATCH, InvalidUsage
from service.api.answers import UsageRecorded, answering
from service.api.auth import Context, partner_access
from service.api.fields import Instant, UsageFigure, UuidText
from service.api.problems import PROBLEM_SCHEMA, problem
from service.commands import execute
from service.commands.usage import IngestUsage

router = APIRouter(prefix="/v1/partners/{pid}/usage", tags=["usage"])


class UsageRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: UuidText = Field(description="A line of this partner, not deleted.")
    hour: Instant = Field(description="The whole UTC hour the figures cover, e.g. "
                                      "2026-01-03T10:00:00Z; not later than the service "
                                      "clock.")
    messages_sent: UsageFigure
    messages_received: UsageFigure
    new_conversations: UsageFigure
    responded_conversations: UsageFigure = Field(
        description="At most new_conversations.")
    volume_limit_hits: UsageFigure


class UsageBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: list[UsageRowIn] = Field(min_length=1, max_length=MAX_BATCH)


BAD_BATCH = {
    "description": "The batch is refused as a whole and nothing is recorded. "
                   "`errors` names each bad row: `{index, field, reason}` (and, like "
                   "every 422, `{loc, msg}`).",
    "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA, "example": {
        "type": "https://partner-ledger.dev/problems/validation_error",
        "title": "Unprocessable content", "status": 422, "code": "validation_error",
        "detail": "2 of 3 rows are not valid; nothing was recorded",
        "errors": [{"index": 1, "field": "line_id", "reason": "no such line of this partner"},
                   {"index": 2, "field": "messages_sent", "reason": "must not be negative"}],
    }}},
}


def _located(error: dict[str, Any]) -> dict[str, Any]:
    """A bad row's error with `loc` and `msg` as well, like every other 422 of the API."""
    loc: list[Any] = ["body", "rows", error["index"]]
    if error["field"] != "row":
        loc.append(error["field"])
    return {**error, "loc": loc, "msg": error["reason"]}


@router.post("", responses={422: BAD_BATCH}, **answering(UsageRecorded))
def ingest(body: UsageBatch, ctx: Context = partner_access("usage.write")) -> Any:
    """Ingest a batch of usage rows (at most 10,000), one per line and UTC hour.

    Each row gives, for one line and one whole hour: `messages_sent`,
    `messages_received`, `new_conversations`, `responded_conversations` and
    `volume_limit_hits` (JSON integers from 0 to 1,000,000,000; responded conversations
    at most the new ones).

    Idempotent per (line, hour): a row whose figures equal those already recorded changes
    nothing, so a batch sent again records nothing. A row with other figures for a
    (line, hour) recorded before is a **correction**: it replaces the figures and is
    recorded as its own `UsageLedger.UsageCorrected` event (with the figures it replaces),
    apart from the `UsageLedger.UsageRecorded` event of new rows; both appear in the audit
    trail. Usage is recorded per partner and UTC day, one event per kind and batch, never
    one per message.

    The whole batch is refused (422 `validation_error`, nothing recorded) when any row
    names an unknown, deleted or other partner's line, an hour that is not whole or lies
    after the service clock, or a figure out of its bounds; `errors` lists each bad row by
    `index` with the `field` and the `reason`. A (line, hour) may appear once in a batch.

    After recording, the auto-flag policy flags active lines whose hour crosses the
    thresholds (`PORTAL_AUTOFLAG_*` settings), and the auto-pause policy pauses them.

    Answers `{received, recorded, corrected, unchanged}` (row counts).
    """
    rows = [row.model_dump() for row in body.rows]
    try:
        recording = execute(ctx.ledger, IngestUsage(partner_id=ctx.partner_id, rows=rows),
                            actor=ctx.actor)
    except InvalidUsage as e:
        return problem(e.status, e.code, e.detail, errors=[_located(err) for err in e.errors])
    return {"received": len(rows), "recorded": recording.recorded,
            "corrected": recording.corrected, "unchanged": recording.unchanged}

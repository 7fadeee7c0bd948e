"""Usage commands: ingest a batch of figures; the auto-flag policy's flag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor
from aggregates.usage import Recording
from service.commands.base import Command, Services, handles


@dataclass(frozen=True)
class IngestUsage(Command[Recording]):
    """Records a batch of per-line, per-hour rows, all or nothing
    (service/commands/usage_ingest.py)."""

    partner_id: UUID
    rows: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class AutoFlagLine(Command[bool]):
    """The auto-flag policy's command: flags an active line once per (line, hour) of usage.
    Answers whether it flagged. Runs inside the catch-up that handed the usage over."""

    catches_up = False
    usage_ledger_id: UUID
    line_id: UUID
    hour: datetime
    reason: str


@handles(IngestUsage)
def ingest_usage(s: Services, c: IngestUsage, actor: Actor, now: datetime) -> Recording:
    return s.usage.ingest(partner_id=c.partner_id, rows=c.rows, actor=actor, at=now)


@handles(AutoFlagLine)
def auto_flag_line(s: Services, c: AutoFlagLine, actor: Actor, now: datetime) -> bool:
    return s.usage.auto_flag(usage_ledger_id=c.usage_ledger_id, line_id=c.line_id,
                             hour=c.hour, reason=c.reason, actor=actor, at=now)

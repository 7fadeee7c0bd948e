"""Usage commands: ingest a batch of per-line, per-hour figures; the auto-flag policy's flag.

A batch is checked as a whole against the caught-up lines view (every row names a live
line of the partner, a whole past hour, non-negative figures) and refused as a whole,
naming each bad row. A good batch is split by UTC day; each day's `UsageLedger` keeps the
figures and records what is new or corrected, and all of them are saved in one
transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from aggregates.base import Actor
from aggregates.errors import NotFound
from aggregates.line import ACTIVE, Line
from aggregates.usage import Recording, UsageLedger, UsageRow, check_batch
from projections.analytics import line_statuses
from projections.read_model import ReadModel
from service.commands.application import LedgerApplication


class Usage:
    def __init__(self, *, app: LedgerApplication, read_model: ReadModel,
                 caught_up: Callable[[], None]) -> None:
        self.app = app
        self.read_model = read_model
        self.caught_up = caught_up

    @property
    def now(self) -> datetime:
        return self.app.clock.now()

    def _ledger(self, *, partner_id: UUID, day: date, actor: Actor,
                at: datetime) -> UsageLedger:
        try:
            return self.app.load(UsageLedger, UsageLedger.id_for(partner_id=partner_id, day=day))
        except NotFound:
            return UsageLedger.start(partner_id=partner_id, day=day, actor=actor, at=at)

    def ingest(self, *, partner_id: UUID, rows: Sequence[Mapping[str, Any]],
               actor: Actor, at: datetime | None = None) -> Recording:
        """Records a batch of usage rows, all or nothing; InvalidUsage names bad rows. Run
        as `IngestUsage` (service/commands/usage.py); `at` defaults to the service clock
        for a direct, single-threaded caller."""
        at = at or self.now
        self.app.partner(partner_id)
        self.caught_up()
        lines = self.read_model.read(line_statuses, partner_id=str(partner_id))
        parsed = check_batch(rows, now=at, lines=lines)
        return self._record(partner_id=partner_id, rows=parsed, actor=actor, at=at)

    def _record(self, *, partner_id: UUID, rows: Sequence[UsageRow], actor: Actor,
                at: datetime) -> Recording:
        by_day: dict[date, list[UsageRow]] = defaultdict(list)
        for row in rows:
            by_day[row.day].append(row)
        total = Recording()
        touched = []
        for day in sorted(by_day):
            ledger = self._ledger(partner_id=partner_id, day=day, actor=actor, at=at)
            recording = ledger.record(rows=by_day[day], actor=actor, at=at)
            total += recording
            if recording.recorded or recording.corrected:
                touched.append(ledger)
        if touched:
            self.app.save(*touched)
        return total

    def auto_flag(self, *, usage_ledger_id: UUID, line_id: UUID, hour: datetime, reason: str,
                  actor: Actor, at: datetime | None = None) -> bool:
        """The auto-flag policy's command: flags an active line once per (line, hour) of
        usage; a line that is not active (flagged already, in the pool, requested, deleted)
        is skipped. True when it flagged."""
        ledger = self.app.load(UsageLedger, usage_ledger_id)
        line = self.app.load(Line, line_id)
        if line.status != ACTIVE or ledger.was_auto_flagged(line_id=line_id, hour=hour):
            return False
        at = at or self.now
        line.flag(reason=reason, actor=actor, at=at)
        ledger.note_auto_flag(line_id=line_id, hour=hour, reason=reason, actor=actor, at=at)
        self.app.save(line, ledger)
        return True

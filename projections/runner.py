"""Catch-up of the read model from the event log, shared by both backends.

The library's `ProjectionRunner` needs a subscription, which its SQLite recorder lacks;
this runner pulls with `select_notifications` from the view's tracking position instead.
It is safe to run in several threads or processes at once: a batch that loses the race
to record its position rolls back and the runner reads on from the new position.

A stored event the views cannot apply never stops the runner: the batch is applied again
one event at a time, the failing event's partner is quarantined (`projections.quarantine`)
and everyone else's events go on. `retry` re-applies a quarantined partner's held events
in log order once the cause is fixed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from projections import quarantine
from projections.quarantine import Undecodable
from projections.read_model import Applied, ReadModel
from projections.recorded import (
    BATCH_SIZE,
    EventSource,
    Read,
    Recorded,
    decode,
    read_events,
)

# Imported from here by the service and the tests; defined in projections.recorded.
__all__ = ["BATCH_SIZE", "EventSource", "Recorded", "Retried", "ViewRunner", "read_events"]

log = logging.getLogger(__name__)

# A rebuild's page of the log: one select, one savepoint of the scratch copy (an event that
# fails sends its page back one event at a time, so a page this size costs little then).
REBUILD_BATCH = 2000


@dataclass(frozen=True)
class Retried:
    """What a retry of one quarantined partner did."""

    partner_id: str
    applied: int
    released: bool
    failed_at: int | None = None
    error: str | None = None


class ViewRunner:
    def __init__(self, source: EventSource, read_model: ReadModel) -> None:
        self.source = source
        self.read_model = read_model
        self._lock = threading.Lock()

    def catch_up(self) -> int:
        """Applies every event recorded so far; returns the log position reached."""
        with self._lock:
            position = self.read_model.position()
            while batch := read_events(self.source, after=position):
                try:
                    outcome = self.read_model.apply_isolating(batch)
                except IntegrityError:
                    position = self.read_model.position()
                    continue
                self._report(outcome)
                position = batch[-1].position
        return position

    def rebuild(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        """Rebuilds every view from the start of the log; returns events applied per view.
        `progress` is told the size of each batch of the log as it is read."""
        with self._lock:
            outcome = self.read_model.rebuild(self._batches(progress))
        self._report(outcome)
        return outcome.views

    def retry(self, partner_id: str) -> Retried:
        """Re-applies the partner's held events in log order: all of them (the partner is
        released), or those before the first that fails again, which keeps the new error."""
        applied = 0
        with self._lock:
            while positions := self.read_model.read(self._held_positions,
                                                    partner_id=partner_id):
                notifications = self.read_model.notifications(positions)
                gone = sorted(set(positions) - {n.id for n in notifications})
                if gone:
                    # Removed from the log by hand: nothing to apply, as in a rebuild.
                    log.warning("partition %s: held positions %s are no longer in the log; "
                                "their quarantine rows are dropped", self.read_model.partition,
                                gone)
                    self.read_model.release([], positions=gone)
                entries = [decode(self.source, n) for n in notifications]
                if not entries:
                    continue
                try:
                    self.read_model.release(self._decoded(entries))
                    applied += len(entries)
                    continue
                except Exception:  # narrowed down event by event below
                    log.info("partition %s: retrying partner %s event by event",
                             self.read_model.partition, partner_id)
                for entry in entries:
                    try:
                        self.read_model.release(self._decoded([entry]))
                    except Exception as error:  # kept in quarantine with the new error
                        problem = quarantine.describe(error)
                        self.read_model.fail_again(entry.position, problem)
                        log.error("partition %s: retry of partner %s failed again at "
                                  "position %s: %s", self.read_model.partition, partner_id,
                                  entry.position, problem)
                        return Retried(partner_id, applied, released=False,
                                       failed_at=entry.position, error=problem)
                    applied += 1
        log.info("partition %s: partner %s released from quarantine (%d events applied)",
                 self.read_model.partition, partner_id, applied)
        return Retried(partner_id, applied, released=True)

    @staticmethod
    def _held_positions(sql: Any, *, partner_id: str) -> list[int]:
        rows = quarantine.listing(sql, partner_id=partner_id, limit=BATCH_SIZE)
        return [row["position"] for row in rows]

    @staticmethod
    def _decoded(entries: Sequence[Read]) -> list[Recorded]:
        decoded: list[Recorded] = []
        for entry in entries:
            if isinstance(entry, Undecodable):
                raise ValueError(entry.error)
            decoded.append(entry)
        return decoded

    def _report(self, outcome: Applied) -> None:
        """The alert: every newly quarantined event at ERROR (the API shows them too)."""
        for held in outcome.failed:
            log.error("partition %s: quarantined partner %s at position %s (%s of %s): %s; "
                      "its later events are held until `ledger quarantine retry`",
                      self.read_model.partition, held.partner_id, held.position,
                      held.event_type, held.notification.originator_id, held.error)
        waiting = len(outcome.held) - len(outcome.failed)
        if waiting:
            log.warning("partition %s: %d events of quarantined partners held",
                        self.read_model.partition, waiting)

    def _batches(self, progress: Callable[[int], None] | None = None) -> Iterator[list[Read]]:
        """The whole log in pages of REBUILD_BATCH, the next page read (a round trip and the
        server's scan) in a thread while the caller applies the current one."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-read") as reader:
            pending = reader.submit(read_events, self.source, after=0, limit=REBUILD_BATCH)
            while batch := pending.result():
                pending = reader.submit(read_events, self.source, after=batch[-1].position,
                                        limit=REBUILD_BATCH)
                yield batch
                if progress is not None:
                    progress(len(batch))

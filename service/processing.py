"""Drives the views and the event-driven policies from the log until both are caught up.

Views apply events exactly once (tracking in the view transaction). Policies are
at-least-once with idempotent reactions: their position is recorded after the
reactions are saved, so a crash in between only hands them the same events again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking

from projections.read_model import ReadModel
from projections.runner import EventSource, ViewRunner, read_events

POLICIES_TRACKING = "policies"

Reaction = Callable[[Any], None]


class Processor:
    def __init__(self, *, source: EventSource, read_model: ReadModel,
                 reactions: list[Reaction]) -> None:
        self.views = ViewRunner(source, read_model)
        self.source = source
        self.read_model = read_model
        self.reactions = reactions
        self._lock = threading.RLock()

    def run(self) -> None:
        """Catches the views and the policies up, repeating while policies record events."""
        with self._lock:
            while True:
                reached = self.views.catch_up()
                if not self._run_policies(views_at=reached):
                    return

    def _run_policies(self, *, views_at: int) -> bool:
        """Hands new events to the policies; True when the log has grown past `views_at`
        (their reactions, or another process), so the views have more to catch up on."""
        position = self.read_model.max_tracking_id(POLICIES_TRACKING)
        if position is None:
            # A new database: policies start where the log starts. An existing log that
            # predates the policies' tracking would otherwise be reacted to again.
            position = 0
        handled = 0
        while batch := read_events(self.source, after=position):
            for item in batch:
                for react in self.reactions:
                    react(item.event)
            position = batch[-1].position
            try:
                self.read_model.insert_tracking(Tracking(POLICIES_TRACKING, position))
            except IntegrityError:
                # Another process recorded this position or a later one first; the
                # reactions are idempotent, so carry on from wherever it got to.
                position = max(position, self.read_model.max_tracking_id(POLICIES_TRACKING)
                               or 0)
            handled += len(batch)
        if not handled:
            return False
        return (self.source.recorder.max_notification_id() or 0) > views_at

    def rebuild(self) -> dict[str, int]:
        with self._lock:
            return self.views.rebuild()

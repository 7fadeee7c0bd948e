"""Drives the views and the event-driven policies from the log until both are caught up.

Views apply events exactly once (tracking in the view transaction). Policies are
at-least-once with idempotent reactions: their position is recorded after the
reactions are saved, so a crash in between only hands them the same events again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from projections.read_model import ReadModel
from projections.runner import EventSource, ViewRunner, read_events

POLICIES_TRACKING = "policies"
# How far the policies' recorded position may lag the views before it is written anyway
# (a policy pass re-reads at most this many positions, filtered by event type).
TRACKING_LAG = 1000

Reaction = Callable[[Any], None]


class Processor:
    def __init__(self, *, source: EventSource, read_model: ReadModel,
                 reactions: list[Reaction], reacts_to: Sequence[type]) -> None:
        self.views = ViewRunner(source, read_model)
        self.source = source
        self.read_model = read_model
        self.reactions = reactions
        self.topics = [get_topic(cls) for cls in reacts_to]
        self._lock = threading.RLock()

    def run(self) -> None:
        """Catches the views and the policies up, repeating while policies record events."""
        with self._lock:
            if self.read_model.nothing_to_do(follower=POLICIES_TRACKING, topics=self.topics,
                                             lag=TRACKING_LAG):
                return
            while True:
                reached = self.views.catch_up()
                if not self._run_policies(views_at=reached):
                    return

    def _run_policies(self, *, views_at: int) -> bool:
        """Hands the events up to `views_at` that a policy reacts to over to the policies;
        True when the log has grown past `views_at` (their reactions, or another
        process), so the views have more to catch up on.

        Only the reacted-to event types are read. The position is recorded when a
        reaction ran, or when it would otherwise lag far behind, so that most commands
        (which no policy reacts to) cost no extra transaction.
        """
        tracked = self.read_model.max_tracking_id(POLICIES_TRACKING) or 0
        position, reacted = tracked, False
        while batch := read_events(self.source, after=position, stop=views_at,
                                   topics=self.topics):
            for item in batch:
                for react in self.reactions:
                    react(item.event)
            position, reacted = batch[-1].position, True
            self._track(position)
        if not reacted and views_at - tracked < TRACKING_LAG:
            return False
        if views_at > position:
            self._track(views_at)
        return (self.source.recorder.max_notification_id() or 0) > views_at

    def _track(self, position: int) -> None:
        # Another process may have recorded this position or a later one first; the
        # reactions are idempotent, so nothing is lost.
        with contextlib.suppress(IntegrityError):
            self.read_model.insert_tracking(Tracking(POLICIES_TRACKING, position))

    def rebuild(self) -> dict[str, int]:
        with self._lock:
            return self.views.rebuild()

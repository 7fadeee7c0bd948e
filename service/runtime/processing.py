"""Drives the views and the event-driven policies from the log until both are caught up.

Views apply events exactly once (tracking in the view transaction). Policies are
at-least-once with idempotent reactions: their position is recorded after the
reactions are saved, so a crash in between only hands them the same events again.

Nothing one stored event does can stop this loop for everyone: the views quarantine an
event they cannot apply (`projections.runner`); the policies skip an event that does not
decode (the views hold it in quarantine), and a reaction that fails stops the policies at
that event for this pass only, logged at ERROR, to be tried again on the next.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from projections.quarantine import Undecodable
from projections.read_model import ReadModel
from projections.runner import EventSource, Retried, ViewRunner, read_events

POLICIES_TRACKING = "policies"
# How far the policies' recorded position may lag the views before it is written anyway
# (a policy pass re-reads at most this many positions, filtered by event type).
TRACKING_LAG = 1000

Reaction = Callable[[Any], None]
log = logging.getLogger(__name__)


class Processor:
    def __init__(self, *, source: EventSource, read_model: ReadModel,
                 reactions: list[Reaction], reacts_to: Sequence[type]) -> None:
        self.views = ViewRunner(source, read_model)
        self.source = source
        self.read_model = read_model
        self.reactions = reactions
        self.topics = [get_topic(cls) for cls in reacts_to]
        self._lock = threading.RLock()
        # What this process knows to be settled: every position up to `_settled` is in
        # the views, and no policy has anything left to do up to it. A catch-up that
        # finds nothing to do settles the log's end; an insert the views took, with no
        # event a policy reacts to, extends it when it begins just after it. A command
        # whose events are settled needs no catch-up (`settled`). Other processes' events
        # break the chain, and the next catch-up starts it again.
        self._settled = 0
        self._settled_by_run = 0
        self._settle_lock = threading.Lock()

    def settled(self, position: int) -> bool:
        """True when the views hold every event up to `position` and no policy is due to
        react to any of them (as far as this process knows: False when in doubt)."""
        return 0 < position <= self._settled

    def inline_committed(self, first: int, last: int, topics: list[str]) -> None:
        """An insert the views took has committed (projections/inline.py)."""
        if any(topic in self.topics for topic in topics):
            return
        with self._settle_lock:
            # The policies' recorded position is written by a catch-up only: after
            # TRACKING_LAG / 2 settled positions, let one run to write it.
            if first == self._settled + 1 and last - self._settled_by_run < TRACKING_LAG // 2:
                self._settled = last

    def _settle(self, position: int) -> None:
        with self._settle_lock:
            self._settled = self._settled_by_run = position

    def run(self) -> None:
        """Catches the views and the policies up, repeating while policies record events."""
        with self._lock:
            if self.read_model.nothing_to_do(follower=POLICIES_TRACKING, topics=self.topics,
                                             lag=TRACKING_LAG):
                if self.read_model.idle_at is not None:
                    self._settle(self.read_model.idle_at)
                return
            while True:
                reached = self.views.catch_up()
                self._policies_failed = False
                if not self._run_policies(views_at=reached):
                    if not self._policies_failed:
                        self._settle(reached)
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
                if isinstance(item, Undecodable):
                    log.error("policies skip position %s: the event does not decode (%s)",
                              item.position, item.error)
                    continue
                try:
                    for react in self.reactions:
                        react(item.event)
                except Exception:  # the next pass tries this event again
                    log.exception("a policy failed on the event at position %s; the "
                                  "policies stop there until it succeeds", item.position)
                    if item.position - 1 > tracked:
                        self._track(item.position - 1)
                    self._policies_failed = True
                    return False
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

    def rebuild(self, progress: Callable[[int], None] | None = None) -> dict[str, int]:
        with self._lock:
            return self.views.rebuild(progress)

    def log_length(self) -> int:
        """How many events the log holds: a rebuild's length, for its progress bar."""
        return self.source.recorder.max_notification_id() or 0

    def retry(self, partner_id: str) -> Retried:
        """Re-applies a quarantined partner's held events (see `ViewRunner.retry`)."""
        with self._lock:
            return self.views.retry(partner_id)

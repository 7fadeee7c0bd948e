"""Catch-up of the read model from the event log, shared by both backends.

The library's `ProjectionRunner` needs a subscription, which its SQLite recorder lacks;
this runner pulls with `select_notifications` from the view's tracking position instead.
It is safe to run in several threads or processes at once: a batch that loses the race
to record its position rolls back and the runner reads on from the new position.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Mapper, Notification

from projections.read_model import ReadModel

BATCH_SIZE = 500


class EventSource(Protocol):
    recorder: ApplicationRecorder
    mapper: Mapper[Any]


class Recorded(NamedTuple):
    """An event with its log position and the stored notification it was read from."""

    position: int
    event: Any
    notification: Notification


def read_events(source: EventSource, *, after: int, limit: int = BATCH_SIZE,
                stop: int | None = None, topics: Sequence[str] = ()) -> list[Recorded]:
    notifications = source.recorder.select_notifications(
        start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
    )
    return [Recorded(n.id, source.mapper.to_domain_event(n), n) for n in notifications]


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
                    self.read_model.apply_batch(batch)
                except IntegrityError:
                    position = self.read_model.position()
                    continue
                position = batch[-1].position
        return position

    def rebuild(self) -> dict[str, int]:
        """Rebuilds every view from the start of the log; returns events applied per view."""
        with self._lock:
            return self.read_model.rebuild(self._batches())

    def _batches(self) -> Iterator[list[Recorded]]:
        position = 0
        while batch := read_events(self.source, after=position):
            yield batch
            position = batch[-1].position

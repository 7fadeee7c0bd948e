"""Stored events as the views take them: a decoded event with its log position
(`Recorded`), or why it did not decode (`quarantine.Undecodable`), and the reader that pulls
them from the log after a position. The read model and the runner both import this module;
neither imports the other's definitions through it, so they form no cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification

from projections import quarantine
from projections.quarantine import Held, Undecodable

BATCH_SIZE = 500


class EventSource(Protocol):
    """The application the views read: its recorder and the mapper that decodes events."""

    recorder: ApplicationRecorder
    mapper: Mapper[Any]


class Recorded(NamedTuple):
    """An event with its log position and the stored notification it was read from."""

    position: int
    event: Any
    notification: Notification


# What the read model applies: a decoded event, one that did not decode, or one held in
# quarantine (the last two are kept out of the views but still tracked and chained).
Read: TypeAlias = Recorded | Undecodable
Entry: TypeAlias = Recorded | Undecodable | Held


def decode(source: EventSource, notification: Notification) -> Read:
    """The stored event as a domain event, or why it does not decode (an unknown topic, a
    state its class no longer takes): the views hold it, nothing raises."""
    try:
        return Recorded(notification.id, source.mapper.to_domain_event(notification),
                        notification)
    except Exception as error:  # any decoding failure quarantines the event, see above
        return Undecodable(notification.id, notification, quarantine.describe(error))


def read_events(source: EventSource, *, after: int, limit: int = BATCH_SIZE,
                stop: int | None = None, topics: Sequence[str] = ()) -> list[Read]:
    """The next `limit` stored events after position `after`, decoded."""
    notifications = source.recorder.select_notifications(
        start=after, limit=limit, stop=stop, topics=topics, inclusive_of_start=False
    )
    return [decode(source, n) for n in notifications]

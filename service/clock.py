"""The service clock: system time in production, a manual clock in test mode.

The manual clock only moves forward, through `advance`, and remembers its time in the
database so that a restarted test service goes on from where it stood.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from aggregates.errors import InvalidTransition


class Clock(Protocol):
    manual: bool

    def now(self) -> datetime: ...


class SystemClock:
    manual = False

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    manual = True

    def __init__(self, start: datetime, *, persist: Callable[[datetime], None] | None = None):
        self._now = start.astimezone(UTC)
        self._persist = persist
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def set(self, to: datetime) -> None:
        """Moves the clock to `to`; never backwards."""
        if to.tzinfo is None:
            to = to.replace(tzinfo=UTC)
        to = to.astimezone(UTC)
        with self._lock:
            if to < self._now:
                raise InvalidTransition(
                    f"the clock stands at {self._now.isoformat()} and never moves back"
                )
            self._now = to
            if self._persist is not None:
                self._persist(to)

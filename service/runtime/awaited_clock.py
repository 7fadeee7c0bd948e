"""The manual clock of a process that started while partition 0, which keeps its time,
did not answer (service/runtime/partitions.py).

The other partitions are built and served at once, but no time is known until partition 0
answers: every use of the time (a command, a view read, a key's use) raises
`ClockUnavailable`, which the API answers 503 `partition_unavailable` with a detail that
names the clock. Inventing a time instead (the system time, the configured start) could
stamp events before the time the deployment already stands at, which a manual clock
never allows. Once partition 0 is taken up, the time it keeps is read and everything is
served as usual."""

from __future__ import annotations

from datetime import UTC, datetime

from service.runtime.clock import ManualClock
from service.runtime.partition_health import PartitionUnavailable

DETAIL = ("the service's manual clock (PORTAL_CLOCK=manual) is kept in partition 0, which "
          "has not answered since this process started; partners are served once it "
          "answers. Retry later.")


class ClockUnavailable(PartitionUnavailable):
    """The manual clock's time is not known yet: partition 0 has not answered."""

    def __init__(self) -> None:
        super().__init__(0, "the manual clock is kept in partition 0, which has not answered")
        self.detail = DETAIL


class AwaitedClock(ManualClock):
    """A manual clock without a time until `found` gives it partition 0's."""

    def __init__(self) -> None:
        super().__init__(datetime.min.replace(tzinfo=UTC))
        self._known = False

    @property
    def known(self) -> bool:
        return self._known

    def found(self, clock: ManualClock) -> None:
        """Takes the time, and the store that keeps it, of the clock read from partition 0."""
        with self._lock:
            self._store, self._now, self._known = clock._store, clock._now, True

    def now(self) -> datetime:
        if not self._known:
            raise ClockUnavailable()
        return super().now()

    def refresh(self) -> None:
        if self._known:  # nothing to read before partition 0 answers
            super().refresh()

    def set(self, to: datetime) -> None:
        if not self._known:
            raise ClockUnavailable()
        super().set(to)

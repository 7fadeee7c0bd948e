"""A circuit breaker: whether a partition's database is worth asking at all.

* **closed**: requests go to the database. A connection failure (the server refused,
  dropped or never answered) opens the breaker at once: waiting for a second failure
  would cost a second request its timeout.
* **open**: requests are refused on the spot (503 `partition_unavailable`), holding no
  thread and no connection. A probe (a fresh connection, one `SELECT 1`) is due every
  `probe_interval` seconds.
* **half-open**: a probe is under way; requests are still refused. A probe that answers
  closes the breaker (its listeners then flush the stale pooled connections before the
  first request goes through); one that fails opens it again for another interval.

Pure state: no thread, no database, no clock of its own (the clock is injected), so the
state machine is tested without any of them (tests/unit/test_circuit_breaker.py).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, *, probe_interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.probe_interval = probe_interval
        self._clock = clock
        self._state = State.CLOSED
        self._last_probe = 0.0
        self._reason = ""
        self._lock = threading.Lock()
        self._on_close: list[Callable[[], None]] = []

    @property
    def state(self) -> State:
        return self._state

    @property
    def reason(self) -> str:
        """Why the breaker last opened (the failure's message), for logs and health."""
        return self._reason

    @property
    def allows(self) -> bool:
        """Whether a request may go to the database now."""
        return self._state is State.CLOSED

    def on_close(self, listener: Callable[[], None]) -> None:
        """Runs `listener` each time a probe closes the breaker, before it closes."""
        self._on_close.append(listener)

    def failed(self, reason: str) -> bool:
        """A connection failure seen by a request; True when it opened the breaker."""
        with self._lock:
            if self._state is not State.CLOSED:
                return False
            self._state, self._reason = State.OPEN, reason
            self._last_probe = self._clock()  # the failure was as good as a probe
            return True

    def probe_due(self) -> bool:
        """Whether a probe should run now: the breaker is open and its interval passed."""
        return (self._state is State.OPEN
                and self._clock() - self._last_probe >= self.probe_interval)

    def begin_probe(self) -> bool:
        """Takes the probe slot (open → half-open); False when none is due or another
        caller took it."""
        with self._lock:
            if not (self._state is State.OPEN
                    and self._clock() - self._last_probe >= self.probe_interval):
                return False
            self._state = State.HALF_OPEN
            return True

    def probe_succeeded(self) -> None:
        """The database answered: listeners run (a failing one keeps the breaker open),
        then requests go through again."""
        if self._state is not State.HALF_OPEN:
            return
        try:
            for listener in self._on_close:
                listener()
        except Exception as error:
            self.probe_failed(f"recovery failed: {error}")
            raise
        with self._lock:
            self._state, self._reason = State.CLOSED, ""

    def probe_failed(self, reason: str) -> None:
        with self._lock:
            self._state, self._reason = State.OPEN, reason
            self._last_probe = self._clock()

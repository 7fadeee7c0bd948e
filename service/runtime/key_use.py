"""When each API key was last used, kept cheaply.

Authentication is a read; writing on every request would turn each read into a write.
So a process records a key's use at most once per `INTERVAL` of the service clock, in the
service table `s_key_use` (not an event: it is bookkeeping, not a change of anything the
ledger owns). With N API processes a key costs at most N writes a minute, and
`last_used_at` is at most about a minute behind. A failed write is logged and tried again
at the key's next use: it never fails the request that used the key.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from uuid import UUID

from projections.read_model import ReadModel
from projections.times import stored
from service.runtime.clock import DATABASE_ERRORS, Clock

log = logging.getLogger(__name__)
INTERVAL = timedelta(minutes=1)
DDL = (
    "CREATE TABLE IF NOT EXISTS s_key_use (key_id TEXT PRIMARY KEY, last_used_at TEXT NOT NULL)",
)


class KeyUse:
    def __init__(self, *, read_model: ReadModel, clock: Clock) -> None:
        self.read_model = read_model
        self.clock = clock
        self._recorded: dict[UUID, datetime] = {}
        self._lock = threading.Lock()

    def seen(self, key_id: UUID) -> None:
        """Notes that the key authenticated a request now."""
        now = self.clock.now()
        with self._lock:
            last = self._recorded.get(key_id)
            if last is not None and last <= now < last + INTERVAL:
                return
            self._recorded[key_id] = now
        try:
            with self.read_model.writing() as sql:
                sql.run("INSERT INTO s_key_use (key_id, last_used_at) VALUES (?, ?) "
                        "ON CONFLICT (key_id) DO UPDATE SET last_used_at = excluded.last_used_at "
                        "WHERE s_key_use.last_used_at < excluded.last_used_at",
                        str(key_id), stored(now))
        except DATABASE_ERRORS:
            log.warning("could not record the use of key %s; will try at its next use",
                        key_id, exc_info=True)
            with self._lock:
                self._recorded.pop(key_id, None)

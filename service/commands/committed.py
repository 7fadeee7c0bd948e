"""What the current request has committed, so that a failure after the commit is not
answered as if nothing had happened (service/api/partition_gate.py).

The API opens a `CommitLog` per request; `LedgerApplication.save` notes in it the
aggregates each successful save touched. A contextvar carries it into the worker thread
that runs the route (the thread's context is a copy, so the log is one shared, mutable
object). Outside a request there is no log and nothing is noted.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field
from uuid import UUID


@dataclass
class CommitLog:
    """The aggregates saved so far, in save order: (id, the version saved, whether the
    save created it)."""

    saved: list[tuple[UUID, int, bool]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, aggregate_id: UUID, version: int, created: bool) -> None:
        with self._lock:
            self.saved.append((aggregate_id, version, created))

    @property
    def committed(self) -> bool:
        return bool(self.saved)


CURRENT: contextvars.ContextVar[CommitLog | None] = contextvars.ContextVar(
    "partner_ledger_commit_log", default=None)


def unsaved(objs: tuple[object, ...]) -> list[tuple[UUID, int, bool]]:
    """The aggregates among `objs`, read before their save: (id, version, whether all
    their events are pending, i.e. the save creates them)."""
    if CURRENT.get() is None:
        return []
    found = []
    for obj in objs:
        aggregate_id, version = getattr(obj, "id", None), getattr(obj, "version", None)
        pending = len(getattr(obj, "pending_events", ()))
        if isinstance(aggregate_id, UUID) and isinstance(version, int):
            found.append((aggregate_id, version, pending > 0 and version == pending))
    return found


def note_saved(saved: list[tuple[UUID, int, bool]]) -> None:
    """Notes a committed save in the current request's log, if there is one."""
    log = CURRENT.get()
    if log is not None:
        for aggregate_id, version, created in saved:
            log.note(aggregate_id, version, created)

"""Group commit: concurrent commands share one insert transaction.

Each command still loads its aggregates and lets them decide on their own; only the save
is shared. The first caller to arrive leads: it takes every save waiting at that moment
and records them in one transaction (one table lock, one inline view update, one commit),
then hands the lead to the oldest save that arrived meanwhile. A caller alone saves at
once, with no hand-off. When the shared transaction fails (most often two commands
changed the same aggregate), each save is recorded on its own, so each command gets its
own answer: saved, or the library's IntegrityError, which the command's retry handles.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.domain import DomainEventProtocol

Save = Callable[..., Any]


class _Waiting:
    __slots__ = ("error", "lead", "objs", "result", "woken")

    def __init__(self, objs: Sequence[Any]) -> None:
        self.objs = objs
        self.woken = threading.Event()
        self.lead = False
        self.result: Any = None
        self.error: BaseException | None = None

    def answer(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    def __init__(self, save: Save) -> None:
        self._save = save
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._leading = False
        self.batches = 0
        self.saves = 0

    def save(self, *objs: Any) -> Any:
        mine = _Waiting(objs)
        with self._lock:
            self._waiting.append(mine)
            lead = not self._leading
            self._leading = True
        if not lead:
            mine.woken.wait()
            if not mine.lead:
                return mine.answer()
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._record(batch)
        finally:
            with self._lock:
                if self._waiting:
                    successor = self._waiting[0]
                    successor.lead = True
                    successor.woken.set()
                else:
                    self._leading = False
        return mine.answer()

    def _record(self, batch: list[_Waiting]) -> None:
        self.batches += 1
        self.saves += len(batch)
        try:
            if len(batch) == 1:
                self._alone(batch[0], batch[0].objs)
                return
            # Collected up front, so that a failed shared save leaves each command's
            # events at hand for its own save. The aggregates follow their events: the
            # library then caches and snapshots them as usual.
            parts = [_events_and_aggregates(waiting.objs) for waiting in batch]
            try:
                recordings = self._save(*(e for events, _ in parts for e in events),
                                        *(a for _, aggregates in parts for a in aggregates))
            except Exception:
                for waiting, (events, aggregates) in zip(batch, parts, strict=True):
                    self._alone(waiting, (*events, *aggregates))
                return
            for waiting in batch:
                waiting.result = recordings
        finally:
            for waiting in batch:
                waiting.woken.set()

    def _alone(self, waiting: _Waiting, objs: Sequence[Any]) -> None:
        try:
            waiting.result = self._save(*objs)
        except Exception as e:  # each command answers for its own save
            waiting.error = e


def _events_and_aggregates(objs: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    events: list[Any] = []
    aggregates: list[Any] = []
    for obj in objs:
        if obj is None:
            continue
        if isinstance(obj, DomainEventProtocol):
            events.append(obj)
        else:
            events.extend(obj.collect_events())
            aggregates.append(obj)
    return events, aggregates

"""Aggregates as this process last saved them: a command loads them without the
fast-forward select, and still never decides on a stale state.

The library's aggregate cache asks the database, on every load, for events newer than
its cached version (one select and one connection checkout). After this process's own
save, the aggregate it saved is usually the newest state there is; only another process
(or another partition's worker) can have written since. So a command's attempt
(`service/commands/execute.py`) loads a copy of the state its process saved last, and the
check is moved to where it costs nothing or is rarely needed:

- an aggregate the attempt saves is checked by the insert itself: its next version is
  unique in the events table, so had anyone written it since, the insert raises
  `IntegrityError`, nothing is recorded, and the lost-race retry loads fresh state (the
  copy is dropped first). A stale copy costs a retry, never a lost update;
- an aggregate the attempt only reads (a target it checks, a claim it leaves alone) is
  checked before the attempt's first save with one select for newer events, and again
  when the attempt ends without saving it (an answer, or a domain error, decided on it);
  when one is stale, the attempt is run again on fresh state.

Only attempts that may run again use the copies: a command with an outside effect (a card
charge) loads through the library as before, as does everything outside a command
(reads, answers, authentication).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache
from eventsourcing.persistence import IntegrityError

from service.commands.aggregate_copies import copy_aggregate

# (aggregate id, version) → whether any event of it newer than that version is stored.
NewerExists = Callable[[UUID, int], bool]


class StaleCopy(IntegrityError):
    """A copy an attempt decided on was stale: run the attempt again (a lost race)."""


@dataclass
class Attempt:
    """The copies one attempt loaded, from whichever store (partition) they came: their
    version, and whether the attempt's own save (or a select) has confirmed them."""

    loaded: dict[tuple[OwnWrites, UUID], int] = field(default_factory=dict)
    confirmed: set[tuple[OwnWrites, UUID]] = field(default_factory=set)
    # The last log position the attempt's saves recorded (0: none): whether its catch-up
    # can be skipped is asked about it.
    recorded_upto: int = 0

    def unconfirmed(self, besides: Iterable[tuple[OwnWrites, UUID]] = (),
                    ) -> list[tuple[OwnWrites, UUID, int]]:
        skip = self.confirmed | set(besides)
        return [(owner, i, v) for (owner, i), v in self.loaded.items() if (owner, i) not in skip]


CURRENT: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar(
    "partner_ledger_attempt", default=None)
# The last position recorded by the last attempt that ended with an answer in this context.
LAST_RECORDED: contextvars.ContextVar[int] = contextvars.ContextVar(
    "partner_ledger_last_recorded", default=0)


@contextmanager
def attempt() -> Iterator[Attempt]:
    """One attempt of a command that may run again: loads inside it may use copies; when
    it ends (answer or error), any copy it decided on unsaved is checked, and a stale one
    turns the outcome into `StaleCopy` (a lost race: the attempt runs again)."""
    current = Attempt()
    token = CURRENT.set(current)
    try:
        yield current
    except IntegrityError:
        raise  # a lost race already: the retry loads fresh state
    except Exception:
        _confirm(current, current.unconfirmed())
        raise
    else:
        _confirm(current, current.unconfirmed())
    finally:
        CURRENT.reset(token)
    LAST_RECORDED.set(current.recorded_upto)


def _confirm(current: Attempt, copies: list[tuple[OwnWrites, UUID, int]]) -> None:
    stale = [(owner, i) for owner, i, version in copies if owner.newer_exists(i, version)]
    current.confirmed.update((owner, i) for owner, i, _ in copies)
    for owner, aggregate_id in stale:
        owner.forget(aggregate_id)
    if stale:
        raise StaleCopy(f"{len(stale)} aggregate(s) changed elsewhere since this process "
                        "saved them")


class OwnWrites:
    """One event store's copies (a partition has its own)."""

    def __init__(self, *, size: int, newer_exists: NewerExists) -> None:
        # Private copies (never handed out): a handler may go on changing the object it
        # saved, or hand it to a route that reads it while another command loads it.
        self._copies: LRUCache[UUID, Any] | None = LRUCache(maxsize=size) if size > 0 else None
        self.newer_exists = newer_exists

    def load(self, aggregate_id: UUID) -> Any | None:
        """A copy of the aggregate as this process saved it last, inside an attempt; None
        to load it through the library."""
        current = CURRENT.get()
        if current is None or self._copies is None:
            return None
        try:
            copy = self._copies.get(aggregate_id)
        except KeyError:
            return None
        aggregate = copy_aggregate(copy)
        current.loaded[(self, aggregate_id)] = aggregate.version
        return aggregate

    def before_save(self, saving: Iterable[UUID]) -> None:
        """Before an attempt's save: confirms the copies it read but does not save (the
        insert checks those it saves). Raises StaleCopy, with nothing recorded, when one
        is stale."""
        current = CURRENT.get()
        if current is None or not current.loaded:
            return
        _confirm(current, current.unconfirmed(besides=[(self, i) for i in saving]))

    def saved(self, aggregates: Iterable[Any], recordings: Any = None) -> None:
        """After a committed save: the saved state is now this process's copy, and the
        attempt's copies of these aggregates are confirmed."""
        current = CURRENT.get()
        if current is not None and recordings:
            current.recorded_upto = max(current.recorded_upto, *(
                r.notification.id or 0 for r in recordings))
        for aggregate in aggregates:
            if current is not None:
                current.confirmed.add((self, aggregate.id))
            if self._copies is not None:
                self._copies.put(aggregate.id, copy_aggregate(aggregate))

    def failed(self, aggregate_ids: Iterable[UUID]) -> None:
        """After a save that did not commit: forget these aggregates' copies, so the
        retry loads them from the database."""
        if self._copies is None:
            return
        for aggregate_id in aggregate_ids:
            self.forget(aggregate_id)

    def forget(self, aggregate_id: UUID) -> None:
        if self._copies is not None:
            with suppress(KeyError):
                self._copies.get(aggregate_id, evict=True)

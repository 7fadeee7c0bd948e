"""Poisoned events for the quarantine tests: a view made to fail on chosen events, and
a stored event written by hand that no code can decode."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import eventsourcing.utils
import pytest
from eventsourcing.persistence import StoredEvent

from aggregates.base import LedgerAggregate
from service.runtime.bootstrap import Ledger

UNKNOWN_TOPIC = "aggregates.line:Line.Teleported"


class InjectedFault(RuntimeError):
    """What a faulty view raises."""


class ViewFault:
    """Makes `view.apply` raise on the events `chosen` picks, until `remove()`: the same
    module object every read model applies, so every catch-up, inline insert, rebuild and
    retry in this process meets it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, view: ModuleType,
                 chosen: Callable[[Any], bool], message: str = "injected view fault", *,
                 in_database: bool = False) -> None:
        self.original = view.apply
        self.chosen = chosen
        self.message = message
        self.in_database = in_database
        self.active = True
        self.hits = 0
        monkeypatch.setattr(view, "apply", self._apply)

    def _apply(self, sql: Any, position: int, event: Any) -> bool:
        if self.active and self.chosen(event):
            self.hits += 1
            if not self.in_database:
                raise InjectedFault(self.message)
            # Refused by the server, not in Python: inside PostgreSQL's pipeline the error
            # surfaces only when a later statement's result is fetched.
            sql.run("INSERT INTO injected_fault_missing_table VALUES (1)")
        return self.original(sql, position, event)

    def remove(self) -> None:
        self.active = False


def named(name: str) -> Callable[[Any], bool]:
    """Picks the events that carry this name (a sub-account created or renamed so)."""
    return lambda event: getattr(event, "name", None) == name


def record_undecodable(ledger: Ledger, *, partner_id: UUID) -> UUID:
    """Stores, as a hand edit or an older version would, an event whose type no code
    knows, naming `partner_id` in its JSON; returns its originator's id. `ledger` must
    record without inline views (the inline insert refuses what does not decode)."""
    originator = uuid4()
    state = {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"},
             "originator_topic": "aggregates.line:Line", "actor_id": "hand",
             "actor_role": "operations",
             "partner_id": {"_type_": "uuid_hex", "_data_": partner_id.hex}}
    ledger.app.recorder.insert_events([StoredEvent(
        originator_id=originator, originator_version=1, topic=UNKNOWN_TOPIC,
        state=json.dumps(state).encode())])
    return originator


class Teleported(LedgerAggregate.Event):
    """What the unknown topic means once the code that knows it is deployed."""


def learn_the_unknown_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fix for an event that does not decode: its topic resolves again (as
    `register_topic` does for a renamed class), for this test only."""
    monkeypatch.setitem(eventsourcing.utils._topic_cache, UNKNOWN_TOPIC, Teleported)

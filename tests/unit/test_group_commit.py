"""Group commit: saves waiting together share one call; a failed shared save falls back
to one save each, and each caller gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from service.commands.group_commit import GroupCommit


class Pending:
    """An aggregate stand-in: pending events handed over once, like the library's."""

    def __init__(self, name: str, events: int = 1) -> None:
        self.id = name
        self.pending = [f"{name}.{n}" for n in range(events)]

    def collect_events(self) -> list[str]:
        collected, self.pending = self.pending, []
        return collected


class Store:
    def __init__(self, *, refuse: Iterable[str] = ()) -> None:
        self.calls: list[list[Any]] = []
        self.refuse = frozenset(refuse)
        self.first_call = threading.Event()
        self.release = threading.Event()

    def save(self, *objs: Any) -> list[str]:
        if not self.calls:
            self.first_call.set()
            self.release.wait(5)
        events = [e for obj in objs for e in
                  (obj.collect_events() if isinstance(obj, Pending) else [obj])]
        self.calls.append(events)
        if self.refuse & set(events) and len(objs) > 0:
            raise RuntimeError(f"refused {sorted(self.refuse & set(events))}")
        return events


def _run_while_first_save_blocks(store: Store, names: list[str]) -> dict[str, Any]:
    group = GroupCommit(store.save)
    answers: dict[str, Any] = {}

    def command(name: str) -> None:
        try:
            answers[name] = group.save(Pending(name))
        except Exception as e:
            answers[name] = e

    first = threading.Thread(target=command, args=(names[0],))
    first.start()
    assert store.first_call.wait(5)
    others = [threading.Thread(target=command, args=(name,)) for name in names[1:]]
    for thread in others:
        thread.start()
    while len(group._waiting) < len(others):  # all queued behind the first save
        threading.Event().wait(0.001)
    store.release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert group.saves == len(names)
    return answers


def test_saves_that_wait_together_are_recorded_in_one_call() -> None:
    store = Store()
    answers = _run_while_first_save_blocks(store, ["a", "b", "c", "d"])
    assert store.calls[0] == ["a.0"]
    assert sorted(store.calls[1]) == ["b.0", "c.0", "d.0"]
    assert len(store.calls) == 2
    assert answers["a"] == ["a.0"]


def test_a_failed_shared_save_gives_each_caller_its_own_answer() -> None:
    store = Store(refuse={"c.0"})
    answers = _run_while_first_save_blocks(store, ["a", "b", "c", "d"])
    # The shared call failed; each save was then made alone with its own events.
    assert [sorted(call) for call in store.calls[2:]] and \
        sorted(e for call in store.calls[2:] for e in call) == ["b.0", "c.0", "d.0"]
    assert isinstance(answers["c"], RuntimeError)
    assert answers["b"] == ["b.0"] and answers["d"] == ["d.0"]


def test_a_caller_alone_saves_at_once() -> None:
    calls: list[tuple[Any, ...]] = []
    group = GroupCommit(lambda *objs: calls.append(objs) or "saved")
    aggregate = Pending("x", events=2)
    assert group.save(aggregate) == "saved"
    assert calls == [(aggregate,)]
    assert group.batches == 1


def test_an_error_of_a_lone_save_reaches_its_caller() -> None:
    def failing(*_: Any) -> None:
        raise ValueError("no")

    group = GroupCommit(failing)
    with pytest.raises(ValueError, match="no"):
        group.save(Pending("x"))
    # The lead is released: the next save runs too.
    with pytest.raises(ValueError, match="no"):
        group.save(Pending("y"))

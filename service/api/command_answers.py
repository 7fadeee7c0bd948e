"""A command route's answer: the aggregate as the command left it, without loading it
again when the process knows nothing changed it since its save.

`service.commands.execute.run` says whether the catch-up after the command was skipped
(`Done.as_saved`: the views took its events in its insert and no policy reacts to them).
Then the aggregate the handler saved is the state the command left, exactly what a load
would find at that point in the log. When a catch-up ran, a policy may have changed it
(a flag's auto-pause), and the route loads it again, after the catch-up, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from aggregates.base import LedgerAggregate
from service.commands.execute import Done

A = TypeVar("A", bound=LedgerAggregate)


def as_left(done: Done[Any], cls: type[A], aggregate_id: UUID, load: Callable[[], A]) -> A:
    """The aggregate `aggregate_id` after the command: the handler's answer when it is
    that aggregate as saved and nothing ran since; `load()` otherwise."""
    answer = done.answer
    if done.as_saved and isinstance(answer, cls) and answer.id == aggregate_id:
        return answer
    return load()

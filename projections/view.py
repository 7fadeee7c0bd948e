"""What a view is, to the read model: tables (their DDL), and a function of one event.

A view is a module of `projections/` (`lines`, `audit`, ...) whose module-level `NAME`,
`TABLES`, `DDL` and `apply` satisfy `View`; mypy checks each module where the views are
registered (`service/runtime/bootstrap.py`), and the read model is handed the list.

The read model applies each event to every view in the registered order, in one
transaction, and before the first view begins a memo of that event on the transaction's
`Sql` (`projections.event_rows`, `sql.event`): what a view read or wrote for the event
(its partner, its line's row, an aggregate's state) is handed to the views after it,
which take it with `event_rows.of(sql, position)` instead of a SELECT. A view that writes
a table another view reads back for the same event records the row there as it wrote
it; a view applied without a memo (none, or another position's) reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from projections.sql import Sql


class Tables(Protocol):
    """Tables the read model creates and a rebuild makes again from the log. (Upper-case
    members: they are a view module's constants.)"""

    @property
    def TABLES(self) -> tuple[str, ...]: ...

    @property
    def DDL(self) -> tuple[str, ...]: ...


class View(Tables, Protocol):
    """A view: its rows are a function of the events applied to them, in log order."""

    @property
    def NAME(self) -> str: ...

    def apply(self, sql: Sql, position: int, event: Any, /) -> bool:
        """Applies one event in the caller's transaction; True when the view took it.
        `event_rows.of(sql, position)` holds what the views before it handed on."""
        ...


@dataclass(frozen=True)
class Views:
    """The views the read model applies, in the order it applies them to each event, and
    the service's own tables (bookkeeping kept beside the views, never rebuilt)."""

    applied: tuple[View, ...]
    service_ddl: tuple[str, ...] = ()

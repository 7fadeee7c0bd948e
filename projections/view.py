"""What a view is, to the read model: tables (their DDL), and a function of one event.

A view is a module of `projections/` (`lines`, `audit`, ...) whose module-level `NAME`,
`TABLES`, `DDL` and `apply` satisfy `View`; mypy checks each module where the views are
registered (`service/runtime/bootstrap.py`), and the read model is handed the list.
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
        """Applies one event in the caller's transaction; True when the view took it."""
        ...


@dataclass(frozen=True)
class Views:
    """The views the read model applies, in the order it applies them to each event, and
    the service's own tables (bookkeeping kept beside the views, never rebuilt)."""

    applied: tuple[View, ...]
    service_ddl: tuple[str, ...] = ()

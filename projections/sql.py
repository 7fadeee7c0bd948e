"""A cursor wrapper that lets one set of SQL statements run on SQLite and PostgreSQL.

Views write their statements once, with `?` placeholders and portable types; the
PostgreSQL dialect rewrites the placeholders. Rows come back as plain dicts on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psycopg import pq

if TYPE_CHECKING:
    from projections.event_rows import EventRows


class Sql:
    def __init__(self, cursor: Any, *, postgres: bool) -> None:
        self.cursor = cursor
        self.postgres = postgres
        # The rows the views read and wrote for the event being applied, handed to the
        # views after them (projections/event_rows.py); one transaction's, one event's.
        self.event: EventRows | None = None

    @property
    def pipelined(self) -> bool:
        """True inside a psycopg pipeline (the event store's insert), where COPY is refused."""
        return self.postgres and \
            self.cursor.connection.pgconn.pipeline_status != pq.PipelineStatus.OFF

    def _statement(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def statement_cursor(self) -> Any:
        """The cursor for the next statement. In a pipeline, a new one each time: a cursor
        that ran several statements may already hold an earlier statement's result when
        the later one is fetched, and psycopg then hands that back instead."""
        return self.cursor.connection.cursor() if self.pipelined else self.cursor

    def run(self, statement: str, *params: Any) -> None:
        self.statement_cursor().execute(self._statement(statement), params)

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.statement_cursor().executemany(self._statement(statement), rows)

    def all(self, statement: str, *params: Any) -> list[dict[str, Any]]:
        cursor = self.statement_cursor()
        cursor.execute(self._statement(statement), params)
        return [dict(row) for row in cursor.fetchall()]

    def one(self, statement: str, *params: Any) -> dict[str, Any] | None:
        cursor = self.statement_cursor()
        cursor.execute(self._statement(statement), params)
        row = cursor.fetchone()
        return dict(row) if row is not None else None

    def scalar(self, statement: str, *params: Any) -> Any:
        row = self.one(statement, *params)
        return next(iter(row.values())) if row else None

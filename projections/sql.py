"""A cursor wrapper that lets one set of SQL statements run on SQLite and PostgreSQL.

Views write their statements once, with `?` placeholders and portable types; the
PostgreSQL dialect rewrites the placeholders. Rows come back as plain dicts on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import pq


class Sql:
    def __init__(self, cursor: Any, *, postgres: bool) -> None:
        self.cursor = cursor
        self.postgres = postgres

    @property
    def pipelined(self) -> bool:
        """True inside a psycopg pipeline (the event store's insert), where COPY is refused."""
        return self.postgres and \
            self.cursor.connection.pgconn.pipeline_status != pq.PipelineStatus.OFF

    def _statement(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def run(self, statement: str, *params: Any) -> None:
        self.cursor.execute(self._statement(statement), params)

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self._statement(statement), rows)

    def all(self, statement: str, *params: Any) -> list[dict[str, Any]]:
        self.cursor.execute(self._statement(statement), params)
        return [dict(row) for row in self.cursor.fetchall()]

    def one(self, statement: str, *params: Any) -> dict[str, Any] | None:
        self.cursor.execute(self._statement(statement), params)
        row = self.cursor.fetchone()
        return dict(row) if row is not None else None

    def scalar(self, statement: str, *params: Any) -> Any:
        row = self.one(statement, *params)
        return next(iter(row.values())) if row else None

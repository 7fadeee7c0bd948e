"""Keyset paging, the query's half: a page of rows after a key, and the key to go on from.

A list is read in the order of a key that only grows (a view's `seq`, a log position), so
a page stays stable while rows are added: the next page is "key greater than the last
one shown". One row more than the page is fetched to learn whether another page follows.
The HTTP half, the opaque cursor around the key and the answer, is
`service/api/paging.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from projections.sql import Sql

R = TypeVar("R")
T = TypeVar("T")


def split(rows: Sequence[R], limit: int, *, key: Callable[[R], int]) -> tuple[list[R], int | None]:
    """The first `limit` of `rows` (in key order), and the key of the last of them when
    more rows follow (None on the last page)."""
    page = list(rows[:limit])
    return page, (key(page[-1]) if len(rows) > limit else None)


def keyset(sql: Sql, query: str, *params: Any, limit: int, key: str,
           item: Callable[[dict[str, Any]], T]) -> tuple[list[T], int | None]:
    """A page of `query`'s rows as `item`s, and the next page's key (column `key` of the
    last row) when more follow. `query` selects the rows after the cursor's key and ends
    with its ORDER BY; the LIMIT is added here."""
    rows, last = split(sql.all(f"{query} LIMIT ?", *params, limit + 1), limit,
                       key=lambda row: row[key])
    return [item(row) for row in rows], last

"""Cursor pagination: `?limit=` (default 50, max 500) and an opaque `?cursor=`."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Depends, Query

from aggregates.bounds import MAX_POSITION
from service.api import fields
from service.api.problems import ApiProblem

DEFAULT_LIMIT = 50
MAX_LIMIT = fields.MAX_LIMIT


def encode_cursor(position: int | None) -> str | None:
    if position is None:
        return None
    return base64.urlsafe_b64encode(f"after:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "after" or not (number.isascii() and number.isdigit()):
            raise ValueError(text)
        position = int(number)
        # Positions are BIGINTs; a larger one would overflow the database driver (500).
        if position > MAX_POSITION:
            raise ValueError(text)
        return position
    except ValueError:
        raise ApiProblem(422, "validation_error", "cursor is not one this API issued") from None


class Page:
    def __init__(self, limit: int, after: int) -> None:
        self.limit = limit
        self.after = after

    def answer(self, data: list[dict[str, Any]], last: int | None) -> dict[str, Any]:
        return {"data": data, "next_cursor": encode_cursor(last)}


async def page(limit: Annotated[fields.Limit, Query()] = DEFAULT_LIMIT,
               cursor: Annotated[fields.Cursor | None, Query()] = None) -> Page:
    # async: no I/O here, so no worker-thread hop
    return Page(limit, decode_cursor(cursor))


PageDep = Annotated[Page, Depends(page)]


AsOf = Annotated[
    fields.AsOf | None,
    Query(description="Read the view as it stood then: an ISO-8601 time or position:<n> "
                      "(a global log position)."),
]

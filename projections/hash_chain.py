"""Tamper evidence: a hash chain over the stored log, in log order.

Each link commits to the previous link and to the event's stored bytes (originator,
version, topic, state), so changing, removing or reordering a stored event breaks every
link from that position on. The chain is kept like any view (same transaction as the
tracking position); `first_break` walks the stored log again and names the first position
whose link no longer matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from projections.sql import Sql

NAME = "hash_chain"
TABLES = ("v_chain",)
DDL = ("CREATE TABLE IF NOT EXISTS v_chain (position BIGINT PRIMARY KEY, link TEXT NOT NULL)",)
GENESIS = "0" * 64


def link(previous: str, notification: Any) -> str:
    """SHA-256 of the previous link, position, originator, version and topic, each
    followed by 0x1F, then the stored state (hashed as one buffer: the same digest as
    feeding the parts one by one, with one call instead of eleven)."""
    header = (f"{previous}\x1f{notification.id}\x1f{notification.originator_id}\x1f"
              f"{notification.originator_version}\x1f{notification.topic}\x1f")
    return hashlib.sha256(header.encode() + bytes(notification.state)).hexdigest()


def head(sql: Sql) -> tuple[int, str]:
    row = sql.one("SELECT position, link FROM v_chain ORDER BY position DESC LIMIT 1")
    return (row["position"], row["link"]) if row else (0, GENESIS)


def extend(sql: Sql, notifications: Iterable[Any], *, previous: str | None = None) -> int:
    """Chains the notifications after the head link (`previous`, read when not given)."""
    if previous is None:
        _, previous = head(sql)
    rows = []
    for notification in notifications:
        previous = link(previous, notification)
        rows.append((notification.id, previous))
    sql.many("INSERT INTO v_chain (position, link) VALUES (?, ?)", rows)
    return len(rows)


@dataclass(frozen=True)
class Break:
    position: int
    problem: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.problem}"


def first_break(stored: Iterator[Any], chained: Iterator[tuple[int, str]]) -> Break | None:
    """Compares the stored log (notifications in order) with the recorded chain (positions
    and links in order); None when every chained position re-derives to its link."""
    previous = GENESIS
    for position, recorded in chained:
        notification = next(stored, None)
        if notification is None or notification.id > position:
            return Break(position, "the stored event was removed")
        if notification.id < position:
            return Break(notification.id, "a stored event appeared that the chain never saw")
        previous = link(previous, notification)
        if previous != recorded:
            return Break(position, "the stored event was changed or reordered")
    return None

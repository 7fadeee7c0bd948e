"""Keyset paging: the page, the next key, and the cursors already issued."""

from __future__ import annotations

import sqlite3

from projections.paging import keyset, split
from projections.sql import Sql
from service.api.paging import decode_cursor, encode_cursor


def test_a_page_names_the_next_key_only_when_more_rows_follow() -> None:
    assert split([1, 2, 3], 2, key=lambda n: n * 10) == ([1, 2], 20)
    assert split([1, 2], 2, key=lambda n: n * 10) == ([1, 2], None)
    assert split([], 2, key=lambda n: n) == ([], None)


def test_keyset_reads_limit_rows_after_the_key_in_key_order() -> None:
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    sql = Sql(connection.cursor(), postgres=False)
    sql.run("CREATE TABLE t (seq INTEGER PRIMARY KEY, name TEXT)")
    sql.many("INSERT INTO t VALUES (?, ?)", [(n, f"n{n}") for n in range(1, 6)])

    def page(after: int) -> tuple[list[str], int | None]:
        return keyset(sql, "SELECT * FROM t WHERE seq > ? ORDER BY seq", after, limit=2,
                      key="seq", item=lambda row: row["name"])

    assert page(0) == (["n1", "n2"], 2)
    assert page(2) == (["n3", "n4"], 4)
    assert page(4) == (["n5"], None)


def test_cursors_keep_their_encoding() -> None:
    # Cursors already handed out must read the same page after an upgrade.
    assert encode_cursor(42) == "YWZ0ZXI6NDI"
    assert decode_cursor("YWZ0ZXI6NDI") == 42
    assert encode_cursor(None) is None

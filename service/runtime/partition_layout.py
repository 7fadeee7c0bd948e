"""Each partition's database remembers which partition of how many it is, so that a start
with another count, or with two URLs swapped, is refused instead of sending partners to
a store where their events are not (moving partners between partitions is not built).

The mark is written by the first start of a database and checked by every later one
(read-only processes check it and write nothing)."""

from __future__ import annotations

from projections.read_model import ReadModel

DDL = ("CREATE TABLE IF NOT EXISTS s_partition_layout (id TEXT PRIMARY KEY, "
       "partition_index INTEGER NOT NULL, partitions INTEGER NOT NULL)")
ROW = "layout"


class LayoutMismatch(Exception):
    """The database was made for another partition, or another count of partitions."""


def check_layout(read_model: ReadModel, *, index: int, count: int, read_only: bool) -> None:
    """Records `index` of `count` on a database that holds no mark; LayoutMismatch when it
    holds another. Runs under the start-up lock (service/bootstrap.schema_lock)."""
    if read_only:
        with read_model.reading() as sql:
            found = sql.scalar("SELECT COUNT(*) FROM information_schema.tables "
                               "WHERE table_name = 's_partition_layout'") if sql.postgres else 1
            row = sql.one("SELECT partition_index, partitions FROM s_partition_layout "
                          "WHERE id = ?", ROW) if found else None
    else:
        with read_model.writing() as sql:
            sql.run(DDL)
            sql.run("INSERT INTO s_partition_layout (id, partition_index, partitions) "
                    "VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING", ROW, index, count)
            row = sql.one("SELECT partition_index, partitions FROM s_partition_layout "
                          "WHERE id = ?", ROW)
    if row is None or (row["partition_index"], row["partitions"]) == (index, count):
        return
    raise LayoutMismatch(
        f"the database of partition {index} was created as partition "
        f"{row['partition_index']} of {row['partitions']}, but this start names "
        f"{count} partition(s) with it at index {index}: the count of partitions is fixed "
        f"(PORTAL_PARTITIONS / PORTAL_PARTITION_URLS) and the URLs must stay in their order")

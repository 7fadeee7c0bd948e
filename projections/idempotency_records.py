"""The idempotency table: one row per (API key, Idempotency-Key), in every partition.

A row is first a claim (`in_flight`, held by one request until `lease_until`, a wall-clock
time in milliseconds that the holder renews while its command runs) and then, once the
answer is final, the answer itself (`done`), kept until `expires_at` (service clock).
The primary key is the unique constraint that makes a claim hold across processes: the
INSERT of a second claim for the same pair does nothing, whichever process sends it.

Not a view: nothing here is derived from events, and a rebuild leaves the table alone.
The statements are portable (`?` placeholders, row values, RETURNING: SQLite >= 3.35).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from projections.sql import Sql

TABLE = "s_idempotency_records"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "key_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, request_hash TEXT NOT NULL, "
    "state TEXT NOT NULL, claim_id TEXT NOT NULL, lease_until BIGINT NOT NULL, "
    "status INTEGER, content_type TEXT, body TEXT, created_at TEXT NOT NULL, "
    "expires_at TEXT NOT NULL, PRIMARY KEY (key_id, idempotency_key))",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_expiry ON {TABLE} (expires_at)",
    # The table before this one was keyed by the raw Authorization header, never expired
    # and held the tokens of created keys in clear: drop it, rows and all.
    "DROP TABLE IF EXISTS s_idempotency",
)

IN_FLIGHT, DONE = "in_flight", "done"


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: run the command, then `finish` or `release`."""

    claim_id: str


@dataclass(frozen=True)
class Held:
    """Another request holds the key, or held it and finished."""

    same_request: bool
    state: Literal["in_flight", "done"]
    status: int | None
    content_type: str | None
    body: str | None


@dataclass(frozen=True)
class Clock:
    """The times a claim is judged by: `now` (service clock, stored text form) for how
    long answers are kept, `wall_ms` (the host's clock) for a claim's lease."""

    now: str
    wall_ms: int


def claim(sql: Sql, *, key_id: str, key: str, request_hash: str, claim_id: str,
          clock: Clock, lease_ms: int, expires_at: str) -> Claimed | Held | None:
    """Claims (key_id, key) for this request, in the caller's transaction.

    A row whose answer has expired, or whose claim's lease ran out (its process died),
    is taken over. None when the row changed under us (another process took it over at
    the same moment): look again."""
    inserted = sql.one(
        f"INSERT INTO {TABLE} (key_id, idempotency_key, request_hash, state, claim_id, "
        "lease_until, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (key_id, idempotency_key) DO NOTHING RETURNING claim_id",
        key_id, key, request_hash, IN_FLIGHT, claim_id, clock.wall_ms + lease_ms, clock.now,
        expires_at)
    if inserted is not None:
        return Claimed(claim_id)
    row = sql.one(f"SELECT request_hash, state, claim_id, lease_until, status, content_type, "
                  f"body, expires_at FROM {TABLE} WHERE key_id = ? AND idempotency_key = ?",
                  key_id, key)
    if row is None:
        return None  # pruned between the two statements
    live = row["expires_at"] > clock.now if row["state"] == DONE \
        else int(row["lease_until"]) > clock.wall_ms
    if live:
        return Held(same_request=row["request_hash"] == request_hash, state=row["state"],
                    status=row["status"], content_type=row["content_type"], body=row["body"])
    taken = sql.one(
        f"UPDATE {TABLE} SET request_hash = ?, state = ?, claim_id = ?, lease_until = ?, "
        "status = NULL, content_type = NULL, body = NULL, created_at = ?, expires_at = ? "
        "WHERE key_id = ? AND idempotency_key = ? AND claim_id = ? RETURNING claim_id",
        request_hash, IN_FLIGHT, claim_id, clock.wall_ms + lease_ms, clock.now, expires_at,
        key_id, key, row["claim_id"])
    return Claimed(claim_id) if taken is not None else None


def finish(sql: Sql, *, key_id: str, key: str, claim_id: str, status: int,
           content_type: str | None, body: str, expires_at: str) -> bool:
    """Keeps the final answer; False when the claim was no longer ours."""
    return sql.one(
        f"UPDATE {TABLE} SET state = ?, status = ?, content_type = ?, body = ?, "
        "expires_at = ? WHERE key_id = ? AND idempotency_key = ? AND claim_id = ? "
        "RETURNING claim_id",
        DONE, status, content_type, body, expires_at, key_id, key, claim_id) is not None


def release(sql: Sql, *, key_id: str, key: str, claim_id: str) -> None:
    """Gives the key up (the answer was not final): the next request with it runs."""
    sql.run(f"DELETE FROM {TABLE} WHERE key_id = ? AND idempotency_key = ? AND claim_id = ? "
            "AND state = ?", key_id, key, claim_id, IN_FLIGHT)


def renew(sql: Sql, *, key_id: str, key: str, claim_id: str, lease_until: int) -> bool:
    """Extends a running claim's lease; False when it is no longer ours."""
    return sql.one(
        f"UPDATE {TABLE} SET lease_until = ? WHERE key_id = ? AND idempotency_key = ? "
        "AND claim_id = ? AND state = ? RETURNING claim_id",
        lease_until, key_id, key, claim_id, IN_FLIGHT) is not None


def prune(sql: Sql, *, clock: Clock, limit: int) -> int:
    """Deletes at most `limit` rows past their keeping time (answers, and claims whose
    lease has run out too); the number deleted. Bounded, so it can run on any request.
    On PostgreSQL rows another transaction holds are skipped, never waited for."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if sql.postgres else ""
    gone = sql.all(
        f"DELETE FROM {TABLE} WHERE (key_id, idempotency_key) IN (SELECT key_id, "
        f"idempotency_key FROM {TABLE} WHERE expires_at <= ? AND (state = ? OR "
        f"lease_until <= ?) ORDER BY expires_at LIMIT ?{skip_locked}) RETURNING key_id",
        clock.now, DONE, clock.wall_ms, limit)
    return len(gone)

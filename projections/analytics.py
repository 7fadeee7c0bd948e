"""Analytics views: usage figures per (partner, line, hour), and the reads the portal plots.

`v_usage` is append-only: a `UsageRecorded` row holds the figures of a (line, hour), and a
`UsageCorrected` row holds the difference the correction makes. So the figures of any
(line, hour) are the sum of its rows, every read is a sum over a window, and the view as
of a log position is the same sum over the rows recorded up to it: `as_of` needs no
replica here.

Each row carries the sub-account the line belonged to when its usage was first recorded
(from the lines view as the usage event is applied; the pool is `''`); corrections keep
that sub-account, so a line moved later does not move its past usage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aggregates.errors import InvalidInput
from aggregates.usage import FIGURES, UsageLedger
from projections.sql import Sql
from projections.times import api_time, stored

NAME = "analytics"
TABLES = ("v_usage",)
UNASSIGNED = ""
DDL = (
    "CREATE TABLE IF NOT EXISTS v_usage (line_id TEXT NOT NULL, hour TEXT NOT NULL, "
    "position BIGINT NOT NULL, partner_id TEXT NOT NULL, sub_account_id TEXT NOT NULL, "
    "recorded_at TEXT NOT NULL, messages_sent BIGINT NOT NULL, "
    "messages_received BIGINT NOT NULL, new_conversations BIGINT NOT NULL, "
    "responded_conversations BIGINT NOT NULL, volume_limit_hits BIGINT NOT NULL, "
    "PRIMARY KEY (line_id, hour, position))",
    "CREATE INDEX IF NOT EXISTS v_usage_by_partner ON v_usage (partner_id, hour)",
)
BUCKETS = ("hour", "day", "week")
MAX_BUCKETS = 5_000
# The longest window one read sums over: a read costs what its window holds, so no read
# walks a partner's whole usage history (see the analytics routes for the defaults).
MAX_WINDOW = timedelta(days=366)
_COLUMNS = ("line_id, hour, position, partner_id, sub_account_id, recorded_at, "
            + ", ".join(FIGURES))
_INSERT_ROW = f"INSERT INTO v_usage ({_COLUMNS}) VALUES ({', '.join('?' * 11)})"
# PostgreSQL takes a whole event's rows (up to 10,000) as one COPY: psycopg formats each row
# in C and the server skips per-statement parsing. Eleven unnest arrays took 2.5 times as
# long, psycopg dumping array items in Python (a regex match for quoting per item).
_COPY = f"COPY v_usage ({_COLUMNS}) FROM STDIN"
# Inside the event store's insert (inline views) the connection is in pipeline mode, where
# COPY is not allowed: there a whole event's rows go as eleven arrays in one statement.
_INSERT_ARRAYS = (f"INSERT INTO v_usage ({_COLUMNS}) SELECT * FROM unnest("
                  + ", ".join(["?::text[]", "?::text[]", "?::bigint[]", "?::text[]",
                               "?::text[]", "?::text[]"] + ["?::bigint[]"] * len(FIGURES))
                  + ")")
_CHUNK = 500


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _insert(sql: Sql, values: Sequence[tuple[Any, ...]]) -> None:
    if not values:
        return
    if sql.postgres and sql.pipelined:
        sql.run(_INSERT_ARRAYS, *(list(column) for column in zip(*values, strict=True)))
    elif sql.postgres:
        with sql.cursor.copy(_COPY) as copy:
            for row in values:
                copy.write_row(row)
    else:
        sql.many(_INSERT_ROW, values)


def _hours(day: str) -> list[str]:
    """The stored form of each hour of `day`, by hour of day."""
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return [stored(start + timedelta(hours=h)) for h in range(24)]


def _current_sub_accounts(sql: Sql, line_ids: Sequence[str]) -> dict[str, str]:
    subs: dict[str, str] = {}
    for chunk in _chunks(line_ids):
        marks = ", ".join("?" for _ in chunk)
        for row in sql.all(f"SELECT id, sub_account_id FROM v_lines WHERE id IN ({marks})",
                           *chunk):
            subs[row["id"]] = row["sub_account_id"] or UNASSIGNED
    return subs


def _recorded_sub_accounts(sql: Sql, partner_id: str, day: str) -> dict[tuple[str, str], str]:
    hours = _hours(day)
    return {(r["line_id"], r["hour"]): r["sub_account_id"] for r in sql.all(
        "SELECT DISTINCT line_id, hour, sub_account_id FROM v_usage WHERE partner_id = ? "
        "AND hour >= ? AND hour <= ?", partner_id, hours[0], hours[-1])}


def apply(sql: Sql, position: int, event: Any) -> bool:
    # Rows stay in their event form, [line_id, hour_of_day, *FIGURES]: no parsing per row.
    if isinstance(event, UsageLedger.UsageRecorded):
        partner_id, at, hours = str(event.partner_id), stored(event.timestamp), _hours(event.day)
        subs = _current_sub_accounts(sql, sorted({r[0] for r in event.rows}))
        _insert(sql, [(r[0], hours[r[1]], position, partner_id, subs.get(r[0], UNASSIGNED), at,
                       *r[2:]) for r in event.rows])
        return True
    if isinstance(event, UsageLedger.UsageCorrected):
        partner_id, at, hours = str(event.partner_id), stored(event.timestamp), _hours(event.day)
        corrected_subs = _recorded_sub_accounts(sql, partner_id, event.day)
        values = []
        for row, previous in zip(event.rows, event.previous, strict=True):
            hour = hours[row[1]]
            deltas = [int(new) - int(old) for new, old in zip(row[2:], previous, strict=True)]
            values.append((row[0], hour, position, partner_id,
                           corrected_subs.get((row[0], hour), UNASSIGNED), at, *deltas))
        _insert(sql, values)
        return True
    return False


# -- reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Which usage a read sums: a partner's, in [since, until), optionally one
    sub-account's, as recorded up to a log position (`as_of`; None: all of it). `floor`
    bounds a window given without `since`: no usage before it is read, and the series
    still starts at the first bucket with usage."""

    partner_id: str
    since: datetime | None = None
    until: datetime | None = None
    sub_account_id: str | None = None
    as_of: int | None = None
    floor: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["partner_id = ?"]
        params: list[Any] = [self.partner_id]
        if self.since is not None:
            clauses.append("hour >= ?")
            params.append(stored(self.since))
        elif self.floor is not None:
            clauses.append("hour >= ?")
            params.append(stored(self.floor))
        if self.until is not None:
            clauses.append("hour < ?")
            params.append(stored(self.until))
        if self.sub_account_id is not None:
            clauses.append("sub_account_id = ?")
            params.append(self.sub_account_id)
        if self.as_of is not None:
            clauses.append("position <= ?")
            params.append(self.as_of)
        return " AND ".join(clauses), params

    def json(self) -> dict[str, Any]:
        return {"since": api_time(self.since), "until": api_time(self.until),
                "sub_account_id": self.sub_account_id or None}


_SUMS = ", ".join(f"SUM({f}) AS {f}" for f in FIGURES)


def _figures(row: dict[str, Any] | None) -> dict[str, int]:
    return {f: int((row or {}).get(f) or 0) for f in FIGURES}


_RATE_PLACES = Decimal("0.0001")


def response_rate(responded: int, new: int) -> Decimal | None:
    """responded / new conversations, exact then rounded half-even to four places; None
    without new conversations."""
    if not new:
        return None
    return (Decimal(responded) / Decimal(new)).quantize(_RATE_PLACES, rounding=ROUND_HALF_EVEN)


def _with_rate(figures: dict[str, int]) -> dict[str, Any]:
    return {**figures, "response_rate": response_rate(figures["responded_conversations"],
                                                      figures["new_conversations"])}


def _bucket_start(at: datetime, bucket: str) -> datetime:
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "hour":
        return at
    day = at.replace(hour=0)
    if bucket == "day":
        return day
    return day - timedelta(days=day.weekday())  # ISO weeks start on Monday


def _next_bucket(at: datetime, bucket: str) -> datetime:
    return at + {"hour": timedelta(hours=1), "day": timedelta(days=1),
                 "week": timedelta(weeks=1)}[bucket]


def _grouped(sql: Sql, window: Window, bucket: str) -> dict[datetime, dict[str, int]]:
    """Sums per bucket start; SQL groups by hour or day, weeks fold days in Python."""
    where, params = window.where()
    width = 13 if bucket == "hour" else 10
    grouped: dict[datetime, dict[str, int]] = {}
    for row in sql.all(f"SELECT substr(hour, 1, {width}) AS k, {_SUMS} FROM v_usage "
                       f"WHERE {where} GROUP BY substr(hour, 1, {width})", *params):
        text = row["k"] + (":00:00" if bucket == "hour" else "T00:00:00")
        start = _bucket_start(datetime.fromisoformat(text).replace(tzinfo=UTC), bucket)
        sums = grouped.setdefault(start, dict.fromkeys(FIGURES, 0))
        for f in FIGURES:
            sums[f] += int(row[f] or 0)
    return grouped


def series(sql: Sql, *, window: Window, bucket: str,
           figures: Sequence[str]) -> dict[str, Any]:
    """The chosen figures per bucket, every bucket from `since` (or the first with usage)
    up to `until` (or the last with usage), empty ones as zeros; and their totals."""
    if bucket not in BUCKETS:
        raise InvalidInput(f"bucket must be one of {', '.join(BUCKETS)}")
    grouped = _grouped(sql, window, bucket)
    first = _bucket_start(window.since, bucket) if window.since else min(grouped, default=None)
    end: datetime | None = window.until
    if end is None and grouped:
        end = _next_bucket(max(grouped), bucket)
    points: list[dict[str, Any]] = []
    totals = dict.fromkeys(FIGURES, 0)
    if first is not None and end is not None:
        at = first
        while at < end:
            if len(points) >= MAX_BUCKETS:
                raise InvalidInput(f"the window holds more than {MAX_BUCKETS} {bucket} "
                                   "buckets; narrow since/until or choose a larger bucket")
            sums = grouped.get(at, dict.fromkeys(FIGURES, 0))
            points.append({"start": api_time(at), **_pick(sums, figures)})
            for f in FIGURES:
                totals[f] += sums[f]
            at = _next_bucket(at, bucket)
    return {**window.json(), "bucket": bucket, "series": points,
            "totals": _pick(totals, figures)}


def _pick(sums: dict[str, int], figures: Sequence[str]) -> dict[str, Any]:
    picked: dict[str, Any] = {f: sums[f] for f in figures if f in FIGURES}
    if "response_rate" in figures:
        picked["response_rate"] = response_rate(sums["responded_conversations"],
                                                sums["new_conversations"])
    return picked


def totals(sql: Sql, *, window: Window) -> dict[str, Any]:
    where, params = window.where()
    return _with_rate(_figures(sql.one(f"SELECT {_SUMS} FROM v_usage WHERE {where}", *params)))


def _sub_account_names(sql: Sql, partner_id: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in sql.all(
        "SELECT id, name, status FROM v_sub_accounts WHERE partner_id = ?", partner_id)}


def by_sub_account(sql: Sql, *, window: Window) -> list[dict[str, Any]]:
    """Figures per sub-account with usage in the window (the pool as `sub_account_id`
    null, named "Unassigned"), with distinct lines that reported usage."""
    where, params = window.where()
    names = _sub_account_names(sql, window.partner_id)
    answer = []
    for row in sql.all(f"SELECT sub_account_id, COUNT(DISTINCT line_id) AS lines, {_SUMS} "
                       f"FROM v_usage WHERE {where} GROUP BY sub_account_id", *params):
        sub = row["sub_account_id"] or None
        known = names.get(sub or "", {})
        answer.append({"sub_account_id": sub,
                       "name": known.get("name", "Unassigned" if sub is None else None),
                       "status": known.get("status") if sub else None,
                       "lines": int(row["lines"]), **_with_rate(_figures(row))})
    return sorted(answer, key=lambda r: (r["name"] or "", r["sub_account_id"] or ""))


def response_rates(sql: Sql, *, window: Window) -> dict[str, Any]:
    figures = ("new_conversations", "responded_conversations", "response_rate")
    overall = totals(sql, window=window)
    return {**window.json(),
            "overall": {f: overall[f] for f in figures},
            "by_sub_account": [{"sub_account_id": r["sub_account_id"], "name": r["name"],
                                **{f: r[f] for f in figures}}
                               for r in by_sub_account(sql, window=window)]}


def compare_sub_accounts(sql: Sql, *, window: Window) -> dict[str, Any]:
    """Sub-accounts ranked by response rate, best first; those without new conversations
    (no rate) come last; ties by name."""
    rows = by_sub_account(sql, window=window)
    rows.sort(key=lambda r: (r["response_rate"] is None, -(r["response_rate"] or 0),
                             r["name"] or ""))
    return {**window.json(), "overall": totals(sql, window=window),
            "data": [{"rank": i + 1, **r} for i, r in enumerate(rows)]}


def top_lines(sql: Sql, *, window: Window, figure: str, limit: int = 20) -> list[dict[str, Any]]:
    """The lines with the most of `figure` in the window, most first."""
    where, params = window.where()
    rows = sql.all(
        f"SELECT u.line_id, SUM(u.{figure}) AS n FROM v_usage u WHERE {where} "
        f"GROUP BY u.line_id HAVING SUM(u.{figure}) > 0 ORDER BY n DESC, u.line_id LIMIT ?",
        *params, limit)
    numbers = {}
    for chunk in _chunks([r["line_id"] for r in rows]):
        marks = ", ".join("?" for _ in chunk)
        numbers.update({r["id"]: r for r in sql.all(
            f"SELECT id, phone_number, status, sub_account_id FROM v_lines "
            f"WHERE id IN ({marks})", *chunk)})
    return [{"line_id": r["line_id"],
             "phone_number": numbers.get(r["line_id"], {}).get("phone_number"),
             "status": numbers.get(r["line_id"], {}).get("status"), figure: int(r["n"])}
            for r in rows]


def volume_limit_hits(sql: Sql, *, window: Window, bucket: str) -> dict[str, Any]:
    answer = series(sql, window=window, bucket=bucket, figures=("volume_limit_hits",))
    answer["top_lines"] = top_lines(sql, window=window, figure="volume_limit_hits")
    return answer


def line_statuses(sql: Sql, *, partner_id: str) -> dict[str, str]:
    """Every line of the partner, id → status: what usage ingestion checks rows against."""
    return {r["id"]: r["status"] for r in sql.all(
        "SELECT id, status FROM v_lines WHERE partner_id = ?", partner_id)}


def sub_account_exists(sql: Sql, *, partner_id: str, sub_account_id: str) -> bool:
    return sql.one("SELECT id FROM v_sub_accounts WHERE id = ? AND partner_id = ?",
                   sub_account_id, partner_id) is not None


def days_with_usage(sql: Sql, *, partner_id: str) -> list[date]:
    return [date.fromisoformat(r["d"]) for r in sql.all(
        "SELECT DISTINCT substr(hour, 1, 10) AS d FROM v_usage WHERE partner_id = ? "
        "ORDER BY d", partner_id)]

"""Quarantine: stored events the views could not apply, and the partners they hold back.

A stored event that no view can apply (it does not decode, or a view raises on it) must
not stop the views of everyone else, nor be skipped as if it never happened. Its partner
is quarantined instead: the event gets a row here with the error, and every later event of
the same partner is held here too (a row without an error), so the partner's views stop
at a consistent point and can be completed in log order once the cause is fixed
(`projections.runner.ViewRunner.retry`). The hash chain and the position bookkeeping still
take every held event in its turn (they depend on the stored bytes only), so the log
stays verifiable, and the tracking position moves on for the other partners.

Every view is partner-scoped, so applying a partner's held events later, in log order,
gives the same rows a rebuild gives. The key a row is held under is the event's partner;
when no partner can be found (a platform key's events), its originator's id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from aggregates.partner import Partner
from projections.events import event_type
from projections.sql import Sql
from projections.times import api_time, stored

NAME = "quarantine"
TABLES = ("s_quarantine",)
DDL = (
    "CREATE TABLE IF NOT EXISTS s_quarantine (position BIGINT PRIMARY KEY, "
    "partition_index INTEGER NOT NULL, partner_id TEXT NOT NULL, originator_id TEXT NOT NULL, "
    "event_type TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL, first_seen TEXT NOT NULL, "
    "last_tried TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS s_quarantine_by_partner ON s_quarantine (partner_id, position)",
    "CREATE INDEX IF NOT EXISTS s_quarantine_by_originator ON s_quarantine (originator_id)",
)
FAILED, HELD = "failed", "held"
# Error texts are the operator's clue, not a dump: long enough for a message and the
# failing value, short enough that a hostile value cannot bloat the table.
ERROR_LIMIT = 2000
_PARTNER_TOPIC = get_topic(Partner) + "."


class Undecodable(NamedTuple):
    """A stored event the mapper could not turn back into a domain event."""

    position: int
    notification: Notification
    error: str


@dataclass(frozen=True)
class Held:
    """A stored event kept out of the views: `error` is why it failed, or None when it only
    waits behind an earlier failed event of the same partner."""

    position: int
    notification: Notification
    partner_id: str
    event_type: str
    error: str | None


def safe_text(text: str, limit: int = ERROR_LIMIT) -> str:
    """Text any column accepts: PostgreSQL's text refuses NUL, and the failing value is
    often what a message quotes."""
    cleaned = text.replace("\x00", "\\x00")
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "…"


def describe(error: BaseException) -> str:
    message = str(error).strip()
    return safe_text(f"{type(error).__name__}: {message}" if message else type(error).__name__)


# -- which partner an event belongs to ----------------------------------------------------

def _direct_partner(event: Any) -> str | None:
    """The partner an event names itself: a partner's own events, or a `partner_id` field
    (every aggregate's first event carries one)."""
    if isinstance(event, Partner.Event):
        return str(event.originator_id)
    partner_id = getattr(event, "partner_id", None)
    return str(partner_id) if partner_id is not None else None


def _raw_partner(notification: Notification) -> str | None:
    """The partner named by a stored event that does not decode, read from its JSON."""
    if notification.topic.startswith(_PARTNER_TOPIC):
        return str(notification.originator_id)
    try:
        state = json.loads(bytes(notification.state))
        value = state.get("partner_id") if isinstance(state, dict) else None
        if isinstance(value, dict):  # the transcoder's {"_type_": "uuid_hex", "_data_": ...}
            value = value.get("_data_")
        return str(UUID(str(value))) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def _type_of(entry: Any) -> str:
    if isinstance(entry, Undecodable):
        return safe_text(entry.notification.topic.rpartition(":")[2] or "unknown", 200)
    return event_type(entry.event)


class PartnerKeys:
    """Finds the partner of each event of a batch, with at most two queries a batch: the
    event itself, an earlier event of its aggregate in the batch, the audit view's entity
    index, a held event of its aggregate, else the aggregate's own id."""

    def __init__(self, sql: Sql, entries: Sequence[Any]) -> None:
        self.known: dict[str, str] = {}
        for entry in entries:
            originator = str(entry.notification.originator_id)
            partner = _raw_partner(entry.notification) if isinstance(entry, Undecodable) \
                else _direct_partner(entry.event)
            if partner is not None:
                self.known.setdefault(originator, partner)
        missing = sorted({str(e.notification.originator_id) for e in entries} - set(self.known))
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = sql.all(f"SELECT entity_id, partner_id FROM v_entities WHERE entity_id IN "
                           f"({marks}) AND partner_id IS NOT NULL", *chunk)
            rows += sql.all(f"SELECT originator_id AS entity_id, partner_id FROM s_quarantine "
                            f"WHERE originator_id IN ({marks})", *chunk)
            for row in rows:
                self.known.setdefault(row["entity_id"], row["partner_id"])

    def of(self, entry: Any) -> str:
        originator = str(entry.notification.originator_id)
        return self.known.get(originator, originator)


# -- holding ------------------------------------------------------------------------------

def quarantined_partners(sql: Sql) -> dict[str, int]:
    """Each quarantined partner, with the position from which its events are held."""
    return {row["partner_id"]: int(row["since"]) for row in sql.all(
        "SELECT partner_id, MIN(position) AS since FROM s_quarantine GROUP BY partner_id")}


def sort(sql: Sql, entries: Sequence[Any], *,
         partners: dict[str, int] | None = None) -> list[Any]:
    """The entries to apply, with those to keep out of the views turned into `Held`: one
    that did not decode (quarantining its partner), and every event of a quarantined
    partner from its first held position on (a rebuild replays the partner's earlier
    events). `partners` is `quarantined_partners` when the caller knows it already."""
    if partners is None:
        partners = quarantined_partners(sql)
    if not partners and not any(isinstance(e, Undecodable | Held) for e in entries):
        return list(entries)
    keys = PartnerKeys(sql, [e for e in entries if not isinstance(e, Held)])
    partners = dict(partners)
    sorted_: list[Any] = []
    for entry in entries:
        if isinstance(entry, Held):
            partners.setdefault(entry.partner_id, entry.position)
            sorted_.append(entry)
            continue
        key = keys.of(entry)
        if isinstance(entry, Undecodable):
            key = safe_text(key, 200)
            partners.setdefault(key, entry.position)
            sorted_.append(Held(entry.position, entry.notification, key, _type_of(entry),
                                entry.error))
        elif partners.get(key, entry.position + 1) <= entry.position:
            sorted_.append(Held(entry.position, entry.notification, key, _type_of(entry), None))
        else:
            sorted_.append(entry)
    return sorted_


def failed(sql: Sql, entry: Any, error: str) -> Held:
    """`entry` (decoded or not) as a failed event of its partner."""
    key = PartnerKeys(sql, [entry]).of(entry)
    return Held(entry.position, entry.notification, safe_text(key, 200), _type_of(entry),
                safe_text(error))


def record(sql: Sql, held: Iterable[Held], *, partition: int, at: datetime) -> None:
    """Rows for held events, seen at `at` (the host's wall clock, not the service clock:
    an operator wants to know when it happened, also on a service whose clock is moved by
    hand). A position seen again (a rebuild's copy, a runner that lost a race) keeps its
    first row."""
    seen = stored(at)
    sql.many("INSERT INTO s_quarantine (position, partition_index, partner_id, originator_id, "
             "event_type, error, attempts, first_seen, last_tried) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
             [(h.position, partition, h.partner_id, str(h.notification.originator_id),
               h.event_type, h.error, 0 if h.error is None else 1, seen, seen) for h in held])


# -- reading and releasing ----------------------------------------------------------------

def count(sql: Sql) -> int:
    return int(sql.scalar("SELECT COUNT(*) FROM s_quarantine") or 0)


def listing(sql: Sql, *, after: int = 0, limit: int = 500, partner_id: str | None = None,
            status: str | None = None) -> list[dict[str, Any]]:
    """Rows in log order from position `after` (exclusive)."""
    where: list[str] = ["position > ?"]
    params: list[Any] = [after]
    if partner_id is not None:
        where.append("partner_id = ?")
        params.append(partner_id)
    if status == FAILED:
        where.append("error IS NOT NULL")
    elif status == HELD:
        where.append("error IS NULL")
    rows = sql.all(f"SELECT * FROM s_quarantine WHERE {' AND '.join(where)} "
                   f"ORDER BY position LIMIT ?", *params, limit)
    return [item(row) for row in rows]


def item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "partition": int(row["partition_index"]),
        "position": int(row["position"]),
        "partner_id": row["partner_id"],
        "originator_id": row["originator_id"],
        "event_type": row["event_type"],
        "status": HELD if row["error"] is None else FAILED,
        "error": row["error"],
        "attempts": int(row["attempts"]),
        "first_seen": api_time(row["first_seen"]),
        "last_tried": api_time(row["last_tried"]),
    }


def partner_at(sql: Sql, position: int) -> str | None:
    return sql.scalar("SELECT partner_id FROM s_quarantine WHERE position = ?", position)


def release(sql: Sql, positions: Sequence[int]) -> None:
    sql.many("DELETE FROM s_quarantine WHERE position = ?", [(p,) for p in positions])


def fail_again(sql: Sql, position: int, error: str, *, at: datetime) -> None:
    sql.run("UPDATE s_quarantine SET error = ?, attempts = attempts + 1, last_tried = ? "
            "WHERE position = ?", safe_text(error), stored(at), position)

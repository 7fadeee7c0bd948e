"""What the views read and wrote for the event being applied, handed to the views after it.

The read model applies each event to every view in turn (`ReadModel._apply_views`).
Several of them need the same rows: the audit view reads the event's partner from
`v_entities`; the lines view reads the line's row and writes it, and timers and public
events used to read it back; aggregate_states reads and writes an invoice's state, which
timers and public events read back again. Each of those reads is a statement, and inside
PostgreSQL's insert pipeline a round trip. Instead, the apply loop gives every event a
fresh `EventRows` (`begin`), kept on the transaction's `Sql`; a view records there what it
read or wrote, and a later view of the same event takes it from there (`of`).

Why the rows are exactly what a SELECT would have read:
- the memo lives on one transaction's `Sql` (a rebuild's scratch copy and the live
  database each have their own), and `begin` replaces it at every event's start, so
  nothing in it outlives the event: not across events, not across a savepoint rolled
  back and the event retried;
- a reader asks with the event's position, and a memo of another position answers
  nothing (a view applied outside the loop runs its own SELECT);
- each table here has one writer among the views, which records the row as it wrote it:
  `v_lines` (the lines view), `v_states` (aggregate_states), `v_entities` and `v_audit`
  (audit); the values keep the database's types (text, BIGINT as int), the line's row its
  columns in table order (`LINE_COLUMNS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Literal

from projections.times import stored

if TYPE_CHECKING:
    from projections.sql import Sql


class _Unknown(Enum):
    UNKNOWN = 0


UNKNOWN: Final = _Unknown.UNKNOWN
Unknown = Literal[_Unknown.UNKNOWN]

# v_lines' columns in table order (projections/lines.py's DDL), as `SELECT *` returns them.
LINE_COLUMNS = ("id", "partner_id", "seq", "phone_number", "status", "sending",
                "sub_account_id", "flag_reason", "requested_sub_account_id",
                "status_before_request", "created_at", "updated_at", "available_since",
                "flagged_at")


@dataclass
class EventRows:
    """One event's rows, as far as a view has read or written them (UNKNOWN: not yet),
    and the event's own values every view formats alike (computed once)."""

    position: int
    entity_id: str  # `str(event.originator_id)`, which most views key their rows by
    at: str  # the event's time in the stored form (`stored(event.timestamp)`)
    # The event's partner as the audit view recorded it in `v_audit` (None: no partner).
    partner: str | Unknown | None = UNKNOWN
    # The event's line: its `v_lines` row as it stands now (None: no such row).
    line: dict[str, Any] | Unknown | None = UNKNOWN
    # `v_states` rows by aggregate id: (kind, state text), or None when there is none.
    states: dict[str, tuple[str, str] | None] = field(default_factory=dict)


def begin(sql: Sql, position: int, event: Any) -> EventRows:
    """A fresh memo for the event at `position`, replacing the previous event's."""
    rows = sql.event = EventRows(position, str(event.originator_id), stored(event.timestamp))
    return rows


def entity_id(rows: EventRows | None, event: Any) -> str:
    return rows.entity_id if rows is not None else str(event.originator_id)


def stamped(rows: EventRows | None, event: Any) -> str:
    return rows.at if rows is not None else stored(event.timestamp)


def of(sql: Sql, position: int) -> EventRows | None:
    """The memo of the event at `position` in this transaction, if the loop began one."""
    rows = sql.event
    return rows if rows is not None and rows.position == position else None


# The entity's partner and, in the same statement, the row the event's next views need:
# one statement where there were two (a line's or an invoice's row always exists with its
# v_entities row, but neither SELECT assumes the other: each column reads its own table).
_WITH_LINE = ("SELECT (SELECT partner_id FROM v_entities WHERE entity_id = ?) AS "
              "entity_partner, l.* FROM (SELECT 1 AS one) AS o LEFT JOIN v_lines AS l "
              "ON l.id = ?")
_WITH_STATE = ("SELECT (SELECT partner_id FROM v_entities WHERE entity_id = ?) AS "
               "entity_partner, s.kind AS state_kind, s.state AS state FROM (SELECT 1 AS one) "
               "AS o LEFT JOIN v_states AS s ON s.id = ?")


def entity_partner(sql: Sql, position: int, entity_id: str, *, line: bool,
                   state: bool) -> str | None:
    """The partner `v_entities` names for the entity; with `line` (a line's event) or
    `state` (a partner's or an invoice's), the memo also takes that row from the same
    statement."""
    rows = of(sql, position)
    if rows is None or not (line or state):
        partner: str | None = sql.scalar(
            "SELECT partner_id FROM v_entities WHERE entity_id = ?", entity_id)
        return partner
    found = sql.one(_WITH_LINE if line else _WITH_STATE, entity_id, entity_id)
    assert found is not None  # the outer side of the join is one constant row
    if line:
        rows.line = {c: found[c] for c in LINE_COLUMNS} if found["id"] is not None else None
    else:
        rows.states[entity_id] = (None if found["state"] is None
                                  else (found["state_kind"], found["state"]))
    result: str | None = found["entity_partner"]
    return result

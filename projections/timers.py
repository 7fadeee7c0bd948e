"""Timers view: when each future action a partner's events imply falls due.

The scheduler (service/runtime/scheduler.py) pops these in time order instead of walking every
cron firing, so moving time costs the work that falls due, not the time skipped. Each row
is a (kind, partner, subject) with the instant its job must run for it, already rounded up
to that job's firing (midnight for cycle close and alerts, the hour for dunning), and is
written in the same transaction as the other views' rows for the event.

Two sorts of rows:
- state timers (`cycle_close`, `dunning`) say "this job has work here from `due_at` on";
  they stay until an event moves or removes them (the invoice issued, paid, retried), so a
  step that failed runs again at the job's next firing, as the cron walk did.
- one-shot timers (`alerts`) say "check this partner's alerts at `due_at`": an event that
  may change a condition (`check`), a period boundary (`period`, for the card expiring
  before the next billing date), a line reaching 7 days flagged or 30 days idle
  (`line:<id>`). Once the check ran, the scheduler notes the (timer, due time, log
  position seen) in `s_timers_done`, service bookkeeping outside the views: the view
  stays a function of the events (a rebuild gives the same rows, `position` being the
  event that set each), and a timer an event sets again is due again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from aggregates.alerts import FLAGGED_FOR, IDLE_FOR
from aggregates.charges import billing_period, next_period
from aggregates.invoice import OPEN, PAST_DUE, Invoice
from aggregates.line import AVAILABLE, FLAGGED, Line
from aggregates.partner import Partner
from projections import aggregate_states, event_rows
from projections.event_rows import UNKNOWN
from projections.sql import Sql
from projections.times import from_stored, stored

NAME = "timers"
TABLES = ("v_timers",)
DDL = (
    "CREATE TABLE IF NOT EXISTS v_timers (kind TEXT NOT NULL, partner_id TEXT NOT NULL, "
    "subject TEXT NOT NULL, due_at TEXT NOT NULL, position BIGINT NOT NULL, "
    "PRIMARY KEY (kind, partner_id, subject))",
    "CREATE INDEX IF NOT EXISTS v_timers_by_due ON v_timers (kind, due_at)",
)
# Which one-shot timers already ran, at which due time, having seen the log up to which
# position (not a view: a rebuild keeps it). A timer set again for the same instant by a
# later event (one at midnight after that midnight's check ran) is due again: the check
# did not see it, and it runs at the next firing, as the daily walk did.
SERVICE_DDL = (
    "CREATE TABLE IF NOT EXISTS s_timers_done (kind TEXT NOT NULL, partner_id TEXT NOT NULL, "
    "subject TEXT NOT NULL, due_at TEXT NOT NULL, position BIGINT NOT NULL, "
    "PRIMARY KEY (kind, partner_id, subject))",
)
_PENDING = ("FROM v_timers t LEFT JOIN s_timers_done d ON d.kind = t.kind AND "
            "d.partner_id = t.partner_id AND d.subject = t.subject "
            "WHERE (d.kind IS NULL OR d.due_at <> t.due_at OR d.position < t.position)")
CYCLE_CLOSE = "cycle_close"
DUNNING = "dunning"
ALERTS = "alerts"
KINDS = (CYCLE_CLOSE, DUNNING, ALERTS)  # the order the jobs run in at one instant
ONE_SHOT = frozenset({ALERTS})
CHECK = "check"
PERIOD = "period"
# Invoice events that change what the alerts job sees (a past-due invoice's failures).
# A credit note may settle a past-due invoice: its payment-failed alert is checked again.
_INVOICE_ALERTING = (Invoice.PaymentFailed, Invoice.PaymentSucceeded, Invoice.Voided,
                     Invoice.CreditNoteIssued)
_CARD_EVENTS = (Partner.PaymentMethodAdded, Partner.PaymentMethodMadeDefault,
                Partner.PaymentMethodRemoved)


class Timer(NamedTuple):
    kind: str
    partner_id: str
    subject: str
    due_at: datetime


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def day_at_or_after(at: datetime) -> datetime:
    """The first midnight UTC at or after `at` (a daily job's firing)."""
    at = _utc(at)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == at else midnight + timedelta(days=1)


def day_after(at: datetime) -> datetime:
    """The first midnight UTC strictly after `at`."""
    return _utc(at).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def hour_at_or_after(at: datetime) -> datetime:
    """The first full hour UTC at or after `at` (the hourly dunning firing)."""
    at = _utc(at)
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour if hour == at else hour + timedelta(hours=1)


def _set(sql: Sql, position: int, kind: str, partner_id: str, subject: str,
         due: datetime) -> None:
    """The timer, due at `due`, as the event at `position` sets it."""
    sql.run("INSERT INTO v_timers (kind, partner_id, subject, due_at, position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, partner_id, subject) DO UPDATE "
            "SET due_at = excluded.due_at, position = excluded.position",
            kind, partner_id, subject, stored(due), position)


def _drop(sql: Sql, kind: str, partner_id: str, subject: str) -> None:
    sql.run("DELETE FROM v_timers WHERE kind = ? AND partner_id = ? AND subject = ?",
            kind, partner_id, subject)


def _not_before(sql: Sql, position: int, kind: str, partner_id: str, subject: str,
                due: datetime) -> None:
    """Moves the timer to `due` unless it stands later already (invoices come in order,
    but a timer never moves back over a period already closed)."""
    # One statement: the stored form is fixed-width UTC text, so its order is time order.
    sql.run("INSERT INTO v_timers (kind, partner_id, subject, due_at, position) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, partner_id, subject) DO UPDATE "
            "SET due_at = excluded.due_at, position = excluded.position "
            "WHERE v_timers.due_at < excluded.due_at",
            kind, partner_id, subject, stored(due), position)


def _check(sql: Sql, position: int, partner_id: str, at: datetime) -> None:
    _set(sql, position, ALERTS, partner_id, CHECK, day_at_or_after(at))


def apply(sql: Sql, position: int, event: Any) -> bool:
    if isinstance(event, Partner.Created):
        pid = str(event.originator_id)
        _, end = billing_period(anchor_day=event.billing_anchor_day, containing=event.timestamp)
        _set(sql, position, CYCLE_CLOSE, pid, "", end)
        _set(sql, position, ALERTS, pid, PERIOD, end)
        return True
    if isinstance(event, _CARD_EVENTS):
        _check(sql, position, str(event.originator_id), event.timestamp)
        return True
    if isinstance(event, Invoice.Event):
        return _invoice(sql, position, event)
    if isinstance(event, Line.Event):
        return _line(sql, position, event)
    return False


def _invoice(sql: Sql, position: int, event: Any) -> bool:
    invoice = aggregate_states.load(sql, Invoice, str(event.originator_id), position=position)
    if invoice is None:
        return False
    pid = str(invoice.partner_id)
    if isinstance(event, Invoice.Issued):
        # The partner's anchor day: a period clamped to a short month's end does not
        # name it (an anchor of the 31st starts Feb 28).
        partner = aggregate_states.load(sql, Partner, pid, position=position)
        anchor = None if partner is None else partner.billing_anchor_day
        _, end = next_period(_utc(event.period_start), anchor)
        _not_before(sql, position, CYCLE_CLOSE, pid, "", end)
        _not_before(sql, position, ALERTS, pid, PERIOD, end)
        # The period turned: the card's next billing date moved (checked at this midnight,
        # after the cycle close, as the daily job did).
        _check(sql, position, pid, event.timestamp)
    if isinstance(event, _INVOICE_ALERTING):
        _check(sql, position, pid, event.timestamp)
    # Dunning has work for the invoice while a charge is owed or an attempt is open.
    due: datetime | None = None
    if invoice.status in (OPEN, PAST_DUE):
        if invoice.open_attempt is not None or invoice.awaiting_first_charge:
            due = hour_at_or_after(event.timestamp)
        elif (retry := invoice.next_retry_at()) is not None:
            due = hour_at_or_after(retry)
    if due is None:
        _drop(sql, DUNNING, pid, str(invoice.id))
    else:
        _set(sql, position, DUNNING, pid, str(invoice.id), due)
    return True


def _line(sql: Sql, position: int, event: Any) -> bool:
    rows = event_rows.of(sql, position)
    line_id = event_rows.entity_id(rows, event)
    if rows is not None and rows.line is not UNKNOWN:
        row = rows.line  # as the lines view just wrote it
    else:
        row = sql.one("SELECT partner_id, status, flagged_at, available_since FROM v_lines "
                      "WHERE id = ?", line_id)
    if row is None:
        return False
    pid, subject = row["partner_id"], f"line:{line_id}"
    # The alert is due once the duration is over: strictly after flagged_at + 7 days.
    if row["status"] == FLAGGED and row["flagged_at"]:
        _set(sql, position, ALERTS, pid, subject,
             day_after(from_stored(row["flagged_at"]) + FLAGGED_FOR))
    elif row["status"] == AVAILABLE and row["available_since"]:
        _set(sql, position, ALERTS, pid, subject,
             day_after(from_stored(row["available_since"]) + IDLE_FOR))
    else:
        _drop(sql, ALERTS, pid, subject)
    if not isinstance(event, Line.Provisioned):
        _check(sql, position, pid, event.timestamp)  # an alert on the line may have ended
    return True


# -- the scheduler's reads and writes ------------------------------------------------------


def earliest(sql: Sql) -> dict[str, datetime]:
    """Each kind's earliest due time among the timers still to run."""
    return {r["kind"]: from_stored(r["due"]) for r in sql.all(
        f"SELECT t.kind AS kind, MIN(t.due_at) AS due {_PENDING} GROUP BY t.kind")}


def due(sql: Sql, *, kind: str, at: datetime) -> list[Timer]:
    """The kind's timers still to run, due at or before `at`, in time then partner order."""
    return [Timer(r["kind"], r["partner_id"], r["subject"], from_stored(r["due_at"]))
            for r in sql.all(f"SELECT t.kind AS kind, t.partner_id AS partner_id, "
                             f"t.subject AS subject, t.due_at AS due_at {_PENDING} "
                             "AND t.kind = ? AND t.due_at <= ? ORDER BY t.due_at, "
                             "t.partner_id, t.subject", kind, stored(at))]


def fired(sql: Sql, timers: list[Timer], *, seen: int) -> None:
    """Notes the one-shot timers that ran having seen the log up to position `seen` (done
    until an event sets them again); state timers stay due until an event moves them."""
    for timer in timers:
        if timer.kind in ONE_SHOT:
            sql.run("INSERT INTO s_timers_done (kind, partner_id, subject, due_at, position) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, partner_id, subject) DO UPDATE "
                    "SET due_at = excluded.due_at, position = excluded.position", timer.kind,
                    timer.partner_id, timer.subject, stored(timer.due_at), seen)


def listing(sql: Sql, *, offset: int, limit: int) -> list[dict[str, Any]]:
    """The next due timers, one per (kind, partner, time), earliest first."""
    return sql.all(f"SELECT DISTINCT t.kind AS kind, t.partner_id AS partner_id, "
                   f"t.due_at AS due_at {_PENDING} ORDER BY t.due_at, t.kind, t.partner_id "
                   "LIMIT ? OFFSET ?", limit, offset)

"""Cycle close of 1,000 partners × 100 lines each on PostgreSQL (issue 4: ≤ 60 s).

Setup (not measured against the target, but reported): partners, a card each and two
sub-accounts are created at the start of one period through the application commands;
their lines are provisioned through the commands over the period's first 28 days
(without a catch-up per command; the views catch up once at the end). Then the clock is
set to the period's end and `billing.close_due_cycles(period_end)` is timed: it issues
one invoice per partner and charges it on the partner's card.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

from bench.common import (
    CARD,
    GRADUATED,
    OPS,
    PERIOD_START,
    STANDARD,
    Context,
    event_count,
    figure,
    met,
    phone_number,
    profile,
    progress,
    scratch_postgres,
    start_ledger,
)

TITLE = "Cycle close on PostgreSQL"
TARGET_SECONDS = 60.0
PERIOD_END = PERIOD_START.replace(month=2)
SEED_DAYS = 28


def seed(ledger: Any, *, partners: int, lines: int) -> tuple[list[UUID], int, float]:
    """The partners and their lines; returns their ids, commands issued and seconds."""
    app = ledger.app
    t0 = time.perf_counter()
    commands = 0
    pids: list[UUID] = []
    subs: dict[UUID, list[UUID]] = {}
    for p in range(partners):
        pid = app.create_partner(name=f"Partner {p:04d}", currency="USD", billing_anchor_day=1,
                                 pricing=GRADUATED if p % 2 else STANDARD, actor=OPS).id
        ledger.billing.add_payment_method(partner_id=pid, actor=OPS, **CARD)
        subs[pid] = [app.create_sub_account(partner_id=pid, name=f"Team {k}", actor=OPS).id
                     for k in range(2)]
        pids.append(pid)
        commands += 4
    progress(f"  {partners:,} partners created")
    for d in range(SEED_DAYS):
        ledger.manual_clock.set(PERIOD_START + timedelta(days=d, hours=9))
        for pid in pids:
            # Line j is provisioned on day j * SEED_DAYS // lines: spread over the days.
            for j in range(lines):
                if j * SEED_DAYS // lines != d:
                    continue
                sub = (None, *subs[pid])[j % 3]
                app.provision_line(partner_id=pid, phone_number=phone_number(j),
                                   sub_account_id=sub, actor=OPS)
                commands += 1
        if d % 7 == 6:
            elapsed = time.perf_counter() - t0
            progress(f"  day {d + 1}/{SEED_DAYS} seeded: {commands:,} commands in "
                     f"{elapsed:.0f}s ({commands / elapsed:,.0f}/s)")
    return pids, commands, time.perf_counter() - t0


def _close(ctx: Context, *, partners: int, lines: int,
           profiled: bool = False) -> dict[str, Any]:
    with scratch_postgres("cycle") as url:
        ledger = start_ledger(url)
        try:
            pids, commands, seed_seconds = seed(ledger, partners=partners, lines=lines)
            t0 = time.perf_counter()
            ledger.caught_up()
            catch_up_seconds = time.perf_counter() - t0
            events = event_count(ledger)
            ledger.manual_clock.set(PERIOD_END)
            if profiled:
                text, _ = profile(lambda: ledger.billing.close_due_cycles(PERIOD_END))
                return {"profile": text}
            progress(f"closing the cycle of {partners:,} partners")
            t0 = time.perf_counter()
            issued = ledger.billing.close_due_cycles(PERIOD_END)
            close_seconds = time.perf_counter() - t0
            progress(f"  {len(issued):,} invoices in {close_seconds:.1f}s; running it again")
            t0 = time.perf_counter()
            again = ledger.billing.close_due_cycles(PERIOD_END)
            rerun_seconds = time.perf_counter() - t0
            ledger.caught_up()
            with ledger.read_model.reading() as sql:
                in_view = sql.scalar("SELECT COUNT(*) FROM v_invoices")
                statuses = {r["status"]: r["n"] for r in sql.all(
                    "SELECT status, COUNT(*) AS n FROM v_invoices GROUP BY status")}
            return {"pids": pids, "commands": commands, "seed_seconds": seed_seconds,
                    "catch_up_seconds": catch_up_seconds, "events": events,
                    "close_seconds": close_seconds, "issued": issued, "again": again,
                    "rerun_seconds": rerun_seconds, "in_view": in_view,
                    "statuses": statuses, "events_after": event_count(ledger)}
        finally:
            ledger.close()


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("cycle close", None, "s", target=("<=", TARGET_SECONDS),
                                   note=f"not run: {ctx.postgres_problem}")],
                "notes": [], "profiles": {}}
    partners, lines = (50, 20) if ctx.quick else (1_000, 100)
    progress(f"cycle close: seeding {partners:,} partners × {lines} lines on postgres")
    r = _close(ctx, partners=partners, lines=lines)
    issued = r["issued"]
    invoices = len(issued)
    paid = Counter(inv.status for inv in issued)
    figures = [
        figure(f"close_due_cycles, {partners:,} partners × {lines} lines", r["close_seconds"],
               "s", target=("<=", TARGET_SECONDS),
               note=f"{invoices:,} invoices issued and charged"),
        figure("invoices per second", invoices / r["close_seconds"], "/s"),
        figure("second run of the same close (nothing to issue)", r["rerun_seconds"], "s",
               note=f"{len(r['again'])} invoices issued"),
        figure("seeding through the commands", r["commands"] / r["seed_seconds"], "/s",
               note=f"{r['commands']:,} commands in {r['seed_seconds']:.0f}s, no per-command "
                    "catch-up"),
        figure("catch-up of the seeded log", r["events"] / r["catch_up_seconds"], "events/s",
               note=f"{r['events']:,} events in {r['catch_up_seconds']:.1f}s"),
    ]
    notes = [
        f"Invoices issued {invoices:,} for {partners:,} partners "
        f"({'equal' if invoices == partners else '**NOT EQUAL**'}); the invoice view holds "
        f"{r['in_view']:,} ({'equal' if r['in_view'] == partners else '**NOT EQUAL**'}); "
        f"statuses after the close: {dict(paid)}; in the view: {r['statuses']}. The close "
        f"recorded {r['events_after'] - r['events']:,} events "
        f"({(r['events_after'] - r['events']) / max(invoices, 1):.1f} an invoice: its issue "
        "and its payment attempt, plus the partner's credit or discount use when there is "
        "any) and caught the views up before each partner's invoice.",
    ]
    profiles: dict[str, str] = {}
    if not met(figures[0]) or invoices != partners:
        small = 20
        progress(f"cycle close: target missed; profiling a close of {small} partners")
        profiles[f"close_due_cycles of {small} partners × {lines} lines (a separate small "
                 "database), top 15 by cumulative time"] = _close(
            ctx, partners=small, lines=lines, profiled=True)["profile"]
    return {"figures": figures, "notes": notes, "profiles": profiles}

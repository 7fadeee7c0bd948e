"""The long log several benchmarks share (issues 5 and 7): 1,000,000 events on PostgreSQL
(50,000 in quick mode), seeded once per run and caught up once.

How it is built (setup, reported but not compared with a target):

- partners are created through the application's commands, each with a card (the billing
  command) and a partner `admin` API key (for the HTTP benchmark); sub-accounts too;
- their lines are made exactly as `LedgerApplication._provision` makes them (the `Line`,
  its phone-number `Claim`, the sub-account's `LineAttached`), and line commands, pause and
  resume alternating per line, are applied to the `Line` aggregates with their own methods,
  with the clock moving from the first day of the partners' billing period to a few
  minutes before the real time now;
- those events are encoded by the application's own mapper (so they decode as usual) and
  written by `COPY` straight into the stored events table, tens of thousands a statement:
  saving them through the application would apply the views inline, a round trip per view
  statement, which took over 20 minutes for a million events;
- the views are then caught up once by the rebuild (`processor.rebuild()`, timed), the
  last `tail` events are written after it, and `processor.run()` catches the views and the
  policies up incrementally over that tail (timed: the incremental catch-up's rate).

The events are the domain's own (the same classes, fields, actors and timestamps as the
commands record); only the one-command-one-transaction pacing is skipped. The first
partner is the big one (10,000 lines in a full run); the others have fewer lines. The
billing period starts at most 20 days before now and its anchor is that day, so no cycle
close falls due while a system-clock server runs over this database.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from psycopg import sql

from aggregates.base import Actor
from aggregates.claim import Claim
from aggregates.line import ENABLED, Line
from bench import common
from service.commands.application import PHONE
from service.commands.phone_numbers import to_e164
from service.runtime.bootstrap import Ledger

ADMIN = Actor(key_id="bench-admin", role="admin")


@dataclass
class Sizes:
    events: int
    big_lines: int
    small_partners: int
    small_lines: int
    sub_accounts: int
    batch: int  # line commands a clock step (and at most one COPY)
    tail: int  # events written after the rebuild, for the incremental catch-up


FULL = Sizes(events=1_000_000, big_lines=10_000, small_partners=9, small_lines=1_000,
             sub_accounts=20, batch=20_000, tail=2_000)
QUICK = Sizes(events=50_000, big_lines=2_000, small_partners=4, small_lines=250,
              sub_accounts=10, batch=5_000, tail=2_000)


@dataclass
class MillionLog:
    """The seeded, caught-up ledger and what the benchmarks need to drive it."""

    url: str
    ledger: Ledger
    sizes: Sizes
    partner_ids: list[UUID]  # the big partner first
    lines: dict[UUID, list[UUID]]  # partner → its line ids
    sending: dict[UUID, str]  # line → its sending state at the end of the seeding
    tokens: dict[UUID, str]  # partner → a partner admin key's token
    period_start: datetime
    events: int
    commands: int  # commands issued one at a time (partners, cards, keys, sub-accounts)
    copies: int  # COPY statements of the bulk part
    seed_seconds: float  # making and writing the events, catch-ups excluded
    rebuild_seconds: float  # the views' first catch-up, by the rebuild
    catch_up_events: int  # the tail caught up incrementally
    catch_up_seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def big(self) -> UUID:
        return self.partner_ids[0]


class BulkWriter:
    """Writes domain events into the stored events table with `COPY`, encoded by the
    application's mapper. The positions follow the order written, as the recorder's inserts
    would give them. Nothing else may write meanwhile (the seeding is alone)."""

    def __init__(self, ledger: Ledger) -> None:
        self.app = ledger.app
        recorder: Any = self.app.recorder
        self.datastore = recorder.datastore
        self.copy = sql.SQL("COPY {}.{} (originator_id, originator_version, topic, state) "
                            "FROM STDIN").format(sql.Identifier(self.datastore.schema),
                                                 sql.Identifier(recorder.events_table_name))
        self.copies = 0

    def write(self, aggregates: Iterable[Any]) -> int:
        """Writes the aggregates' pending events, in the order given; returns how many."""
        to_stored = self.app.mapper.to_stored_event
        stored = [to_stored(event) for aggregate in aggregates
                  for event in aggregate.collect_events()]
        if not stored:
            return 0
        with self.datastore.transaction(commit=True) as cursor, cursor.copy(self.copy) as copy:
            for event in stored:
                copy.write_row((event.originator_id, event.originator_version, event.topic,
                                event.state))
        self.copies += 1
        return len(stored)


def period_start(now: datetime) -> datetime:
    """Midnight at most 20 days before `now`, on a day 1..28 (a billing anchor day): the
    billing period that starts then still holds `now`."""
    start = (now - timedelta(days=20)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=28) if start.day > 28 else start


def seed(ledger: Ledger, url: str, sizes: Sizes, *, seed: int = 11,
         catch_up: bool = True) -> MillionLog:
    rng = random.Random(seed)
    app, clock = ledger.app, ledger.manual_clock
    real_now = datetime.now(UTC).replace(microsecond=0)
    start = period_start(real_now)
    end = real_now - timedelta(minutes=10)
    t0 = time.perf_counter()
    clock.set(start + timedelta(minutes=5))
    commands = 0
    pids: list[UUID] = []
    tokens: dict[UUID, str] = {}
    subs: dict[UUID, list[UUID]] = {}
    for p in range(1 + sizes.small_partners):
        pid = app.create_partner(name=f"Long Log {p:02d}", currency="USD",
                                 billing_anchor_day=start.day,
                                 pricing=common.GRADUATED if p % 2 == 0 else common.STANDARD,
                                 actor=common.OPS).id
        ledger.billing.add_payment_method(partner_id=pid, actor=common.OPS, **common.CARD)
        _, token = app.issue_key(partner_id=pid, role="admin", name="bench", actor=common.OPS)
        n_subs = sizes.sub_accounts if p == 0 else max(2, sizes.sub_accounts // 4)
        subs[pid] = [app.create_sub_account(partner_id=pid, name=f"Team {k:02d}",
                                            actor=common.OPS).id for k in range(n_subs)]
        pids.append(pid)
        tokens[pid] = token
        commands += 3 + n_subs

    # Lines, made as `_provision` makes them, many per COPY.
    writer = BulkWriter(ledger)
    clock.set(start + timedelta(hours=1))
    at = clock.now()
    lines: dict[UUID, list[UUID]] = {}
    aggregates: dict[UUID, Line] = {}
    block = 5_000
    for p, pid in enumerate(pids):
        count = sizes.big_lines if p == 0 else sizes.small_lines
        sub_accounts = [app.sub_account(pid, s) for s in subs[pid]]
        lines[pid] = []
        for first in range(0, count, block):
            touched: list[Any] = []
            for i in range(first, min(count, first + block)):
                sub = sub_accounts[i % len(sub_accounts)]
                number = to_e164(common.phone_number(i))
                line = Line.provision(id=uuid4(), partner_id=pid, phone_number=number,
                                      sub_account_id=sub.id, actor=ADMIN, at=at)
                claim = Claim.make(kind=PHONE, partner_id=pid, value=number,
                                   holder_id=line.id, actor=ADMIN, at=at)
                sub.attach_line(line_id=line.id, actor=ADMIN, at=at)
                touched += [line, claim]
                lines[pid].append(line.id)
                aggregates[line.id] = line
            writer.write([*touched, *sub_accounts])
        for sub in sub_accounts:
            # Written behind the application's back: its copy of the sub-account is stale.
            app.own_writes.forget(sub.id)
        common.progress(f"  long log: partner {p + 1}/{len(pids)}: {count:,} lines")

    # Line commands: pause/resume alternating per line, over the period, in batches.
    order = [line_id for pid in pids for line_id in lines[pid]]
    rng.shuffle(order)
    have = common.event_count(ledger)
    span = (end - clock.now()).total_seconds()
    first_at, begin = clock.now(), have
    cursor = 0
    counts = {"Line.SendingPaused": 0, "Line.SendingResumed": 0}
    rebuild_seconds = 0.0
    rebuilt = not catch_up
    report = max(sizes.batch, (sizes.events - have) // 10)
    while have < sizes.events:
        n = min(sizes.batch, sizes.events - have)
        if not rebuilt and have + n > sizes.events - sizes.tail:
            # Up to here the views are caught up by the rebuild; the rest of the log is
            # the incremental catch-up's.
            n = max(1, sizes.events - sizes.tail - have)
        # The clock moves with the log, from the lines' hour to the period's end.
        clock.set(first_at + timedelta(seconds=span * (have + n - begin)
                                       / max(1, sizes.events - begin)))
        at = clock.now()
        touched_lines: list[Line] = []
        for _ in range(n):
            line = aggregates[order[cursor % len(order)]]
            cursor += 1
            if line.sending == ENABLED:
                line.pause(actor=ADMIN, at=at)
                counts["Line.SendingPaused"] += 1
            else:
                line.resume(actor=ADMIN, at=at)
                counts["Line.SendingResumed"] += 1
            touched_lines.append(line)
        # As one save of the touched lines: each line's events together, at its first
        # place in the batch, in version order.
        before, have = have, have + writer.write({line.id: line for line in touched_lines}.values())
        if before // report != have // report or have >= sizes.events:
            elapsed = time.perf_counter() - t0 - rebuild_seconds
            common.progress(f"  long log: {have:,}/{sizes.events:,} events in {elapsed:.0f}s")
        if not rebuilt and have >= sizes.events - sizes.tail:
            rebuilt = True
            common.progress(f"  long log: catching the views up on {have:,} events by the "
                            "rebuild")
            t1 = time.perf_counter()
            ledger.processor.rebuild()
            rebuild_seconds = time.perf_counter() - t1
            common.progress(f"  long log: rebuilt in {rebuild_seconds:.0f}s "
                            f"({have / rebuild_seconds:,.0f} events/s)")
    clock.set(end)
    seed_seconds = time.perf_counter() - t0 - rebuild_seconds
    events = common.event_count(ledger)
    catch_up_seconds = 0.0
    tail = 0
    if catch_up:
        tail = events - (ledger.read_model.position())
        common.progress(f"  long log: {events:,} events seeded in {seed_seconds:.0f}s; "
                        f"catching the views and policies up on the last {tail:,}")
        t1 = time.perf_counter()
        ledger.processor.run()
        catch_up_seconds = time.perf_counter() - t1
        common.progress(f"  long log: caught up in {catch_up_seconds:.1f}s "
                        f"({tail / catch_up_seconds:,.0f} events/s)")
    return MillionLog(url=url, ledger=ledger, sizes=sizes, partner_ids=pids, lines=lines,
                      sending={i: line.sending for i, line in aggregates.items()},
                      tokens=tokens, period_start=start, events=events, commands=commands,
                      copies=writer.copies, seed_seconds=seed_seconds,
                      rebuild_seconds=rebuild_seconds, catch_up_events=tail,
                      catch_up_seconds=catch_up_seconds, counts=counts)


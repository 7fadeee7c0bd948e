"""The long log several benchmarks share (issues 5 and 7): 1,000,000 events on PostgreSQL
(50,000 in quick mode), seeded once per run and caught up once.

How it is built (setup, reported but not compared with a target):

- partners are created through the application's commands, each with a card (the billing
  command) and a partner `admin` API key (for the HTTP benchmark); sub-accounts too;
- their lines are made exactly as `LedgerApplication._provision` makes them (the `Line`,
  its phone-number `Claim`, the sub-account's `LineAttached`) but saved many at a time,
  one `app.save(...)` per block of lines;
- then line commands, pause and resume alternating per line, are applied to the `Line`
  aggregates with their own methods and saved in large batches (one `app.save(...)` per
  batch) until the log holds the wanted number of events, with the clock moving from the
  first day of the partners' billing period to a few minutes before the real time now;
- finally `ledger.processor.run()` catches the views and the policies up once (timed).

The events are the domain's own (the same classes, fields, actors and timestamps as the
commands record); only the one-command-one-transaction pacing is skipped. The first
partner is the big one (10,000 lines in a full run); the others have fewer lines. The
billing period starts at most 20 days before now and its anchor is that day, so no cycle
close falls due while a system-clock server runs over this database.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

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
    batch: int  # events per app.save(...) of line commands


FULL = Sizes(events=1_000_000, big_lines=10_000, small_partners=9, small_lines=1_000,
             sub_accounts=20, batch=10_000)
QUICK = Sizes(events=50_000, big_lines=2_000, small_partners=4, small_lines=250,
              sub_accounts=10, batch=5_000)


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
    saves: int  # app.save(...) calls of the bulk part
    seed_seconds: float
    catch_up_seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def big(self) -> UUID:
        return self.partner_ids[0]


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

    # Lines, made as `_provision` makes them, many per save.
    clock.set(start + timedelta(hours=1))
    at = clock.now()
    lines: dict[UUID, list[UUID]] = {}
    aggregates: dict[UUID, Line] = {}
    saves = 0
    block = 1_000
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
            app.save(*touched, *sub_accounts)
            saves += 1
        common.progress(f"  long log: partner {p + 1}/{len(pids)}: {count:,} lines")

    # Line commands: pause/resume alternating per line, in large batches, over the period.
    order = [line_id for pid in pids for line_id in lines[pid]]
    rng.shuffle(order)
    have = common.event_count(ledger)
    remaining = sizes.events - have
    batches = max(1, -(-remaining // sizes.batch))
    span = (end - clock.now()).total_seconds()
    first_at = clock.now()
    cursor = 0
    counts = {"Line.SendingPaused": 0, "Line.SendingResumed": 0}
    for b in range(batches):
        n = min(sizes.batch, sizes.events - have)
        if n <= 0:
            break
        clock.set(first_at + timedelta(seconds=span * (b + 1) / batches))
        at = clock.now()
        touched_lines: dict[UUID, Line] = {}
        for _ in range(n):
            line = aggregates[order[cursor % len(order)]]
            cursor += 1
            if line.sending == ENABLED:
                line.pause(actor=ADMIN, at=at)
                counts["Line.SendingPaused"] += 1
            else:
                line.resume(actor=ADMIN, at=at)
                counts["Line.SendingResumed"] += 1
            touched_lines[line.id] = line
        app.save(*touched_lines.values())
        saves += 1
        have += n
        if b % max(1, batches // 10) == 0 or b == batches - 1:
            elapsed = time.perf_counter() - t0
            common.progress(f"  long log: {have:,}/{sizes.events:,} events in {elapsed:.0f}s")
    clock.set(end)
    seed_seconds = time.perf_counter() - t0
    events = common.event_count(ledger)
    catch_up_seconds = 0.0
    if catch_up:
        common.progress(f"  long log: {events:,} events seeded in {seed_seconds:.0f}s; "
                        "catching the views and policies up once")
        t1 = time.perf_counter()
        ledger.processor.run()
        catch_up_seconds = time.perf_counter() - t1
        common.progress(f"  long log: caught up in {catch_up_seconds:.0f}s "
                        f"({events / catch_up_seconds:,.0f} events/s)")
    return MillionLog(url=url, ledger=ledger, sizes=sizes, partner_ids=pids, lines=lines,
                      sending={i: line.sending for i, line in aggregates.items()},
                      tokens=tokens, period_start=start, events=events, commands=commands,
                      saves=saves, seed_seconds=seed_seconds,
                      catch_up_seconds=catch_up_seconds, counts=counts)

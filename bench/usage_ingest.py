"""Usage ingestion on PostgreSQL (issue 6: 1,000,000 line-hour rows at ≥ 20,000 rows/s with
the analytics views caught up).

A partner with 1,000 lines over 10 sub-accounts (250 lines in quick mode), provisioned
through the commands, reports usage for consecutive hours: each batch is 10,000 rows (the
API's maximum), several hours of every line, handed to `ledger.usage.ingest(...)` (the
service the `POST /v1/partners/{pid}/usage` route calls, with the rows as the route
passes them) and followed by `ledger.caught_up()` (as the route does before answering),
so the analytics views hold the batch when it is done. The clock moves past each batch's
last hour before it is sent. Figures are random; about one row in 20,000 crosses the
volume-limit threshold, so the auto-flag and auto-pause policies act now and then. The
rate is all rows over the wall time of all batches (ingest plus catch-up). Afterwards the
analytics view is checked against the rows sent.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

from aggregates.usage import MAX_BATCH
from bench.common import (
    OPS,
    PERIOD_START,
    Context,
    figure,
    met,
    percentile,
    phone_number,
    profile,
    progress,
    scratch_postgres,
    start_ledger,
)
from projections.times import stored

TITLE = "Usage ingestion on PostgreSQL, analytics views caught up"
TARGET = 20_000.0
FLAG_EVERY = 20_000  # about one row in this many crosses the volume-limit threshold


def make_rows(rng: random.Random, line_ids: list[str], hours: list[datetime],
              sums: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for hour in hours:
        for line in line_ids:
            new = rng.randrange(0, 15)
            row = {"line_id": line, "hour": hour, "messages_sent": rng.randrange(0, 200),
                   "messages_received": rng.randrange(0, 200), "new_conversations": new,
                   "responded_conversations": rng.randrange(0, new + 1),
                   "volume_limit_hits": 12 if rng.randrange(FLAG_EVERY) == 0
                   else rng.randrange(0, 3)}
            sums["messages_sent"] += row["messages_sent"]
            sums["volume_limit_hits"] += row["volume_limit_hits"]
            rows.append(row)
    return rows


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("usage ingestion", None, "/s", target=(">=", TARGET),
                                   note=f"not run: {ctx.postgres_problem}")]}
    total, n_lines = (50_000, 250) if ctx.quick else (1_000_000, 1_000)
    hours_per_batch = MAX_BATCH // n_lines
    batches = total // (hours_per_batch * n_lines)
    rng = random.Random(5)
    with scratch_postgres("usage") as url:
        ledger = start_ledger(url)
        try:
            app = ledger.app
            pid = app.create_partner(name="Usage Heavy", currency="USD", billing_anchor_day=1,
                                     pricing={"structure": "standard", "unit_amount": 1000},
                                     actor=OPS).id
            subs = [app.create_sub_account(partner_id=pid, name=f"Team {k}", actor=OPS).id
                    for k in range(10)]
            progress(f"usage: provisioning {n_lines:,} lines")
            line_ids = [str(app.provision_line(partner_id=pid, phone_number=phone_number(i),
                                               sub_account_id=subs[i % len(subs)],
                                               actor=OPS).id) for i in range(n_lines)]
            ledger.caught_up()
            first_hour = PERIOD_START + timedelta(hours=1)
            events0 = ledger.app.recorder.max_notification_id() or 0
            sums = {"messages_sent": 0, "volume_limit_hits": 0}
            ingest_s: list[float] = []
            catch_up_s: list[float] = []
            recorded = 0
            progress(f"usage: {batches} batches of {hours_per_batch * n_lines:,} rows")
            for b in range(batches + 1):  # the last one is profiled, not counted
                hours = [first_hour + timedelta(hours=b * hours_per_batch + h)
                         for h in range(hours_per_batch)]
                ledger.manual_clock.set(hours[-1] + timedelta(minutes=30))
                rows = make_rows(rng, line_ids, hours, sums if b < batches else
                                 {"messages_sent": 0, "volume_limit_hits": 0})

                def batch(rows: list[dict[str, Any]] = rows) -> Any:
                    t0 = time.perf_counter()
                    done = ledger.usage.ingest(partner_id=pid, rows=rows, actor=OPS)
                    t1 = time.perf_counter()
                    ledger.caught_up()
                    return done, t1 - t0, time.perf_counter() - t1

                if b == batches:
                    profiled, _ = profile(batch, top=20)
                    break
                done, a, c = batch()
                recorded += done.recorded
                ingest_s.append(a)
                catch_up_s.append(c)
                if b % max(1, batches // 10) == 0:
                    progress(f"  usage: {(b + 1) * len(rows):,} rows; batch {a:.2f}s ingest + "
                             f"{c:.2f}s catch-up")
            seconds = sum(ingest_s) + sum(catch_up_s)
            rows_sent = batches * hours_per_batch * n_lines
            events = (ledger.app.recorder.max_notification_id() or 0) - events0
            with ledger.read_model.reading() as sql:
                row = sql.one("SELECT COUNT(*) AS n, SUM(messages_sent) AS sent, "
                              "SUM(volume_limit_hits) AS hits FROM v_usage WHERE hour < ?",
                              stored(first_hour + timedelta(hours=batches * hours_per_batch)))
                flagged = int(sql.scalar("SELECT COUNT(*) FROM v_lines WHERE partner_id = ? "
                                         "AND status = 'flagged'", str(pid)) or 0)
        finally:
            ledger.close()
    per_batch = [a + c for a, c in zip(ingest_s, catch_up_s, strict=True)]
    figures = [
        figure(f"{rows_sent:,} rows, batches of {MAX_BATCH:,}, caught up after each",
               rows_sent / seconds, "/s", target=(">=", TARGET),
               note=f"rows per second; {seconds:.1f}s for {batches} batches"),
        figure("ingest alone (validation, UsageLedger, save)", rows_sent / sum(ingest_s), "/s",
               note=f"{sum(ingest_s):.1f}s in all"),
        figure("catch-up alone (views and policies)", rows_sent / sum(catch_up_s), "/s",
               note=f"{sum(catch_up_s):.1f}s in all"),
        figure("batch (10,000 rows) p50", percentile(per_batch, 50), "s",
               note=f"max {max(per_batch):.2f}s"),
    ]
    check = (int(row["n"]), int(row["sent"] or 0), int(row["hits"] or 0)) if row else None
    expected = (rows_sent, sums["messages_sent"], sums["volume_limit_hits"])
    notes = [
        f"{n_lines:,} lines, {batches * hours_per_batch:,} hours from "
        f"{first_hour:%Y-%m-%d %H:%M} UTC; {recorded:,} rows recorded in {events:,} events "
        f"(usage events, the day ledgers' starts, and the policies' flags and pauses); "
        f"{flagged} lines flagged by the auto-flag policy.",
        f"analytics view check (rows, messages sent, volume-limit hits): {check} against "
        f"{expected} sent — {'equal' if check == expected else '**NOT EQUAL**'}.",
    ]
    profiles = {}
    if not met(figures[0]):
        profiles["one more batch of 10,000 rows: ingest + catch-up"] = profiled
    return {"figures": figures, "notes": notes, "profiles": profiles}

"""View reads at 10,000 lines per partner over a log of 1,000,000 events (issue 7: p99 ≤
5 ms in-process): the lines overview and the billing summary of the long log's big
partner (`million.py`; 2,000 lines and 50,000 events in quick mode), through the read
model on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, figure, timed_reads
from projections.billing import billing_summary
from projections.lines import overview

TITLE = "View reads (overview, billing summary) at many lines per partner over the long log"
TARGET_P99_MS = 5.0


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("view reads", None, "ms", note=ctx.postgres_problem)]}
    log = ctx.million()
    ledger, pid = log.ledger, str(log.big)
    ledger.processor.run()
    now = ledger.clock.now()
    calls = 300 if ctx.quick else 1_000
    events = ledger.app.recorder.max_notification_id() or 0
    with ledger.read_model.reading() as sql:
        live = int(sql.scalar("SELECT COUNT(*) FROM v_lines WHERE partner_id = ? AND "
                              "status <> 'deleted'", pid))
    reads = {
        "overview": lambda: ledger.read_model.read(overview, partner_id=pid),
        "billing summary": lambda: ledger.read_model.read(billing_summary, partner_id=pid,
                                                          now=now),
    }
    profiles: dict[str, str] = {}
    figures = timed_reads("postgres", reads, calls=calls, p99_target_ms=TARGET_P99_MS,
                          where="over the long log", profiles=profiles)
    notes = [f"postgres: partner with {live:,} live lines; log {events:,} events; billing "
             f"period from {log.period_start:%Y-%m-%d}, now {now:%Y-%m-%d %H:%M} UTC."]
    return {"figures": figures, "notes": notes, "profiles": profiles}

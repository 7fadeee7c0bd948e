"""View reads at 10,000 lines per partner (issue 7: p99 ≤ 5 ms in-process): the lines
overview and the billing summary, through the read model, on SQLite and PostgreSQL.

Issue 7 also asks for these reads over a log of 1,000,000 events; the log here is the
big partner's (its size is reported), not a million events.
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, figure, timed_reads
from projections.billing import billing_summary
from projections.lines import overview

TITLE = "View reads (overview, billing summary) at many lines per partner"
TARGET_P99_MS = 5.0


def run(ctx: Context) -> dict[str, Any]:
    calls = 300 if ctx.quick else 1_000
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    profiles: dict[str, str] = {}
    for backend in ctx.backends:
        big = ctx.big_partner(backend)
        ledger, pid, now = big.ledger, str(big.partner_id), big.now
        notes.append(f"{backend}: partner with {big.live_lines:,} live lines; log "
                     f"{big.events:,} events.")
        reads = {
            "overview": lambda ledger=ledger, pid=pid: ledger.read_model.read(
                overview, partner_id=pid),
            "billing summary": lambda ledger=ledger, pid=pid, now=now: ledger.read_model.read(
                billing_summary, partner_id=pid, now=now),
        }
        figures += timed_reads(backend, reads, calls=calls, p99_target_ms=TARGET_P99_MS,
                               where=f"on {backend}", profiles=profiles)
    if ctx.postgres_problem:
        figures.append(figure("postgres", None, "", note=ctx.postgres_problem))
    return {"figures": figures, "notes": notes, "profiles": profiles}

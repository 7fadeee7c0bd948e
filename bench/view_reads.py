"""View reads at 10,000 lines per partner (issue 7: p99 ≤ 5 ms in-process): the lines
overview and the billing summary, through the read model, on SQLite and PostgreSQL.

Issue 7 also asks for these reads over a log of 1,000,000 events; the log here is the
big partner's (its size is reported), not a million events.
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, figure, latencies, latency_figures, met, profile, progress
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
        for name, read in reads.items():
            progress(f"view reads on {backend}: {calls} × {name}")
            samples = latencies(read, n=calls, warmup=20)
            figs = latency_figures(f"{backend} {name}", samples, p99_target_ms=TARGET_P99_MS)
            figures += figs
            if not all(met(f) is not False for f in figs):
                text, _ = profile(lambda read=read: [read() for _ in range(100)])
                profiles[f"{backend}: 100 × {name}"] = text
    if ctx.postgres_problem:
        figures.append(figure("postgres", None, "", note=ctx.postgres_problem))
    return {"figures": figures, "notes": notes, "profiles": profiles}

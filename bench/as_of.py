"""As-of reads over a log of 1,000,000 events on PostgreSQL (issue 5: ≤ 1 s a read).

The log is the shared long log (`bench/million.py`). At positions spread evenly over
the log, for the big partner (10,000 lines) and a small one, each read is timed cold: the
replica cache (`ledger.replicas`) is emptied first, so the time includes resolving the
position, loading the nearest checkpoint into an in-memory replica and applying the
partner's events after it, then the read itself. The reads are those of the API:
`view_source(ledger, pid, "position:<n>")` followed by the lines overview, the first page
of the line list, or the billing summary. A warm read (the replica cached, as the
portal's later reads of the same page are) is timed for reference.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from bench.common import Context, figure, met, percentile, profile, progress
from projections import billing, lines
from service.runtime.as_of import view_source

TITLE = "As-of reads over the long log (PostgreSQL)"
TARGET_S = 1.0

READS = {
    "overview": lambda source, pid: source.read(lines.overview, partner_id=pid),
    "line list": lambda source, pid: source.read(
        lines.list_lines, partner_id=pid, status=None, sub_account_id=None, after_seq=0,
        limit=100),
    "billing summary": lambda source, pid: source.read(
        billing.billing_summary, partner_id=pid, now=source.now),
}


def _replayed(ledger: Any, pid: str, position: int) -> tuple[int, int]:
    """(checkpoint position used, partner events applied after it) for a replica."""
    with ledger.read_model.reading() as sql:
        start = sql.scalar("SELECT MAX(position) FROM v_checkpoints WHERE partner_id = ? AND "
                           "position <= ?", pid, position) or 0
        n = sql.scalar("SELECT COUNT(*) FROM v_audit WHERE partner_id = ? AND position > ? "
                       "AND position <= ?", pid, start, position)
    return int(start), int(n or 0)


def cold_read(ledger: Any, pid: UUID, position: int, read: Any) -> float:
    ledger.replicas = type(ledger.replicas)()
    t0 = time.perf_counter()
    source = view_source(ledger, pid, f"position:{position}")
    read(source, str(pid))
    return time.perf_counter() - t0


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("as-of read", None, "s", target=("<=", TARGET_S),
                                   note=f"not run: {ctx.postgres_problem}")]}
    log = ctx.million()
    ledger = log.ledger
    n_positions = 6 if ctx.quick else 20
    positions = [log.events * (k + 1) // n_positions for k in range(n_positions)]
    partners = {"big partner": log.big, "small partner": log.partner_ids[1]}
    samples: dict[str, list[float]] = {}
    warm: list[float] = []
    replay: dict[str, list[int]] = {label: [] for label in partners}
    with ledger.read_model.reading() as sql:
        checkpoints = {label: int(sql.scalar("SELECT COUNT(*) FROM v_checkpoints WHERE "
                                             "partner_id = ?", str(pid)) or 0)
                       for label, pid in partners.items()}
    progress(f"as-of reads: {n_positions} positions × {len(partners)} partners × "
             f"{len(READS)} reads, cold")
    for position in positions:
        for label, pid in partners.items():
            replay[label].append(_replayed(ledger, str(pid), position)[1])
            for name, read in READS.items():
                samples.setdefault(f"{label} {name}", []).append(
                    cold_read(ledger, pid, position, read))
                t0 = time.perf_counter()
                read(view_source(ledger, pid, f"position:{position}"), str(pid))
                warm.append(time.perf_counter() - t0)
    every = [s for values in samples.values() for s in values]
    figures = [
        figure("cold as-of read p50", percentile(every, 50), "s", target=("<=", TARGET_S),
               note=f"{len(every)} reads"),
        figure("cold as-of read p99", percentile(every, 99), "s", target=("<=", TARGET_S),
               note=f"{len(every)} reads"),
        figure("cold as-of read max", max(every), "s", target=("<=", TARGET_S),
               note=f"{len(every)} reads"),
    ]
    for name, values in samples.items():
        figures.append(figure(f"cold {name} p50 / max", percentile(values, 50), "s",
                              note=f"{len(values)} positions; max {max(values):.3f} s"))
    figures.append(figure("warm as-of read (replica cached) p50", percentile(warm, 50) * 1000,
                          "ms", note=f"{len(warm)} reads; p99 "
                                     f"{percentile(warm, 99) * 1000:.2f} ms"))
    big_lines = len(log.lines[log.big])
    notes = [
        f"Log: {log.events:,} events over {len(log.partner_ids)} partners (big partner "
        f"{big_lines:,} lines; the others {len(log.lines[log.partner_ids[1]]):,} each); "
        f"positions {', '.join(f'{p:,}' for p in positions)}.",
        *(f"{label}: {checkpoints[label]} checkpoints in the log; partner events applied "
          f"after the checkpoint per replica: median {sorted(v)[len(v) // 2]:,}, max "
          f"{max(v):,}." for label, v in replay.items()),
    ]
    profiles: dict[str, str] = {}
    if not all(met(f) is not False for f in figures):
        position = positions[len(positions) // 2]

        def cold_big() -> None:
            for read in READS.values():
                cold_read(ledger, log.big, position, read)

        text, _ = profile(cold_big)
        profiles[f"3 cold as-of reads of the big partner at position {position:,}"] = text
    return {"figures": figures, "notes": notes, "profiles": profiles}

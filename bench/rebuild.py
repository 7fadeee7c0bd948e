"""Full rebuild of the views from the log on PostgreSQL (issue 5: ≥ 10,000 events/s).

`ledger.processor.rebuild()` over the long log (`million.py`: 1,000,000 events, 50,000 in
quick mode), whose views are caught up: it empties every view and re-applies the whole
log. The rate is the log's events over the wall time. Before and after, a digest of the
main view tables is taken to show the rebuild gives the same views back. The seeding's
first rebuild (its views' catch-up) and its incremental catch-up of the log's tail
(`processor.run()`, views and policies) are reported beside it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from bench import million
from bench.common import (
    Context,
    figure,
    met,
    profile,
    progress,
    scratch_postgres,
    start_ledger,
)

TITLE = "Full rebuild of the views (PostgreSQL)"
TARGET = 10_000.0
DIGESTS = {
    "v_lines": "SELECT COUNT(*) AS n, md5(string_agg(id || status || sending || "
               "coalesce(sub_account_id, ''), ',' ORDER BY id)) AS d FROM v_lines",
    "v_line_counts": "SELECT COUNT(*) AS n, md5(string_agg(partner_id || bucket || status || "
                     "n::text, ',' ORDER BY partner_id, bucket, status)) AS d "
                     "FROM v_line_counts",
    "v_audit": "SELECT COUNT(*) AS n, MAX(position)::text AS d FROM v_audit",
    "v_chain": "SELECT COUNT(*) AS n, (SELECT link FROM v_chain ORDER BY position DESC "
               "LIMIT 1) AS d FROM v_chain",
    "v_states": "SELECT COUNT(*) AS n, md5(string_agg(id || version::text, ',' ORDER BY id)) "
                "AS d FROM v_states",
}


def digest(ledger: Any) -> dict[str, tuple[int, str]]:
    with ledger.read_model.reading() as sql:
        return {table: (int(row["n"]), str(row["d"]))
                for table, query in DIGESTS.items()
                if (row := sql.one(query)) is not None}


class PeakRss:
    """Samples this process's resident set size while a block runs."""

    def __init__(self) -> None:
        self.peak = self.start = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("rebuild", None, "events/s", target=(">=", TARGET),
                                   note=f"not run: {ctx.postgres_problem}")]}
    log = ctx.million()
    ledger = log.ledger
    ledger.processor.run()
    events = ledger.app.recorder.max_notification_id() or 0
    before = digest(ledger)
    progress(f"rebuild: {events:,} events")
    with PeakRss() as rss:
        t0 = time.perf_counter()
        applied = ledger.processor.rebuild()
        seconds = time.perf_counter() - t0
    after = digest(ledger)
    same = before == after
    figures = [
        figure("processor.rebuild()", events / seconds, "events/s", target=(">=", TARGET),
               note=f"{events:,} events in {seconds:.1f}s; views "
                    f"{'equal to' if same else '**DIFFERENT FROM**'} the caught-up ones "
                    f"({', '.join(before)} compared)"),
        figure("rebuilding process RSS growth", rss.peak - rss.start, "MB",
               note=f"this process (the benchmark), {rss.start:.0f} MB before, peak "
                    f"{rss.peak:.0f} MB"),
        figure("the seeding's first rebuild (reference)",
               (log.events - log.catch_up_events) / log.rebuild_seconds, "events/s",
               note=f"the views' first catch-up, by `processor.rebuild()`: "
                    f"{log.events - log.catch_up_events:,} events in "
                    f"{log.rebuild_seconds:.0f}s; the log's {log.events:,} events were "
                    f"made and written in {log.seed_seconds:.0f}s ({log.copies} COPYs)"),
        figure("incremental catch-up of the log's tail (reference)",
               log.catch_up_events / log.catch_up_seconds, "events/s",
               note=f"`processor.run()` once after the seeding's rebuild: the last "
                    f"{log.catch_up_events:,} events in {log.catch_up_seconds:.1f}s, views "
                    f"and policies, batches of the runner"),
    ]
    notes = [f"events applied per view: {applied}."]
    if not same:
        notes.append(f"digests before {before}, after {after}.")
    profiles: dict[str, str] = {}
    if not met(figures[0]):
        if ctx.quick:
            progress("rebuild: target missed; profiling a second rebuild")
            text, _ = profile(ledger.processor.rebuild, top=20)
            profiles[f"processor.rebuild() of the same {events:,} events"] = text
        else:
            # Profiling the full log would take several times the rebuild itself: profile
            # the rebuild of a quick-sized long log (the same kinds of events) instead.
            progress("rebuild: target missed; profiling the rebuild of a smaller log")
            with scratch_postgres("rebuild") as url:
                small = start_ledger(url)
                try:
                    seeded = million.seed(small, url, million.QUICK, catch_up=False)
                    text, _ = profile(small.processor.rebuild, top=20)
                finally:
                    small.close()
            profiles[f"processor.rebuild() of a separate log of {seeded.events:,} events "
                     "(seeded like the long log)"] = text
    return {"figures": figures, "notes": notes, "profiles": profiles}

"""Export of the audit trail of the long log with flat memory (issue 5: RSS growth ≤ 50 MB
while exporting 1,000,000 events).

`ledger export audit --format jsonl --output <file>` runs as a subprocess over the long
log's database (`million.py`); its resident set size (VmRSS in `/proc/<pid>/status`) and
the output's size are sampled every 20 ms until it exits. The growth is the peak RSS
minus the RSS when the first rows reached the file (the process has imported everything
and built its ledger by then); the RSS at quarters of the output is reported too, to show
whether memory climbs with the rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Context, figure, progress
from bench.http_load import ledger_executable, rss_mb

TITLE = "Export of the audit trail (`ledger export`, PostgreSQL)"
TARGET_MB = 50.0


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("export", None, "MB", target=("<=", TARGET_MB),
                                   note=f"not run: {ctx.postgres_problem}")]}
    log = ctx.million()
    ledger = log.ledger
    ledger.processor.run()
    with ledger.read_model.reading() as sql:
        audit_rows = int(sql.scalar("SELECT COUNT(*) FROM v_audit"))
    directory = Path(tempfile.mkdtemp(prefix="bench_export_"))
    out = directory / "audit.jsonl"
    env = {**os.environ, "PORTAL_DATABASE_URL": log.url, "PORTAL_CLOCK": "system"}
    samples: list[tuple[float, float, int]] = []  # seconds, RSS MB, output bytes
    progress(f"export: {audit_rows:,} audit rows to {out}")
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*ledger_executable(), "export", "audit", "--format", "jsonl", "--output", str(out)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = t0 + 1800
        while proc.poll() is None and time.perf_counter() < deadline:
            mb = rss_mb(proc.pid)
            size = out.stat().st_size if out.exists() else 0
            if mb is not None:
                samples.append((time.perf_counter() - t0, mb, size))
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        stderr = proc.communicate(timeout=60)[1]
        seconds = time.perf_counter() - t0
        written = sum(1 for _ in out.open()) if out.exists() else 0
        size = out.stat().st_size if out.exists() else 0
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    streaming = [s for s in samples if s[2] > 0]
    if proc.returncode != 0 or not streaming:
        return {"figures": [figure("export", None, "MB", target=("<=", TARGET_MB),
                                   note=f"ledger export exited {proc.returncode}: "
                                        f"{stderr.strip()[-300:]}")]}
    first = streaming[0]
    peak = max(mb for _, mb, _ in samples)
    quarters = []
    for q in (0.25, 0.5, 0.75, 1.0):
        at = next((s for s in streaming if s[2] >= q * size), streaming[-1])
        quarters.append(f"{q:.0%} {at[1]:.0f} MB")
    figures = [
        figure("RSS growth while streaming", peak - first[1], "MB", target=("<=", TARGET_MB),
               note=f"{written:,} rows ({size / 1e6:,.0f} MB of JSON lines); RSS when the "
                    f"first rows were written {first[1]:.0f} MB, peak {peak:.0f} MB; "
                    f"{len(samples)} samples"),
        figure("peak RSS of the export process", peak, "MB",
               note="imports, the ledger it builds, and the streaming"),
        figure("export rate", written / seconds, "/s",
               note=f"rows per second, {seconds:.1f}s wall time including start-up"),
    ]
    notes = [f"RSS at each quarter of the output: {', '.join(quarters)}.",
             f"rows written {written:,}, audit rows in the view {audit_rows:,}"
             f" ({'equal' if written == audit_rows else '**NOT EQUAL**'})."]
    return {"figures": figures, "notes": notes, "profiles": {}}

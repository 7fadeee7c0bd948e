"""Upcoming invoice for one partner with 10,000 lines and a month of changes (issue 4:
≤ 50 ms a request), in-process through the read model and, for reference, over HTTP
through FastAPI's TestClient; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import warnings
from typing import Any

from bench.common import (
    ADMIN_TOKEN,
    Context,
    figure,
    latencies,
    latency_figures,
    met,
    profile,
    progress,
)
from projections.billing import upcoming_invoice

TITLE = "Upcoming invoice (one partner, many lines, a month of changes)"
TARGET_MS = 50.0


def _http_client(ledger: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        from service.api.app import create_app
    return TestClient(create_app(ledger, run_scheduler=False))


def run(ctx: Context) -> dict[str, Any]:
    calls = 100 if ctx.quick else 200
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    profiles: dict[str, str] = {}
    for backend in ctx.backends:
        big = ctx.big_partner(backend)
        ledger, pid, now = big.ledger, str(big.partner_id), big.now
        notes.append(
            f"{backend}: {big.live_lines:,} live lines ({ctx.big_lines:,} provisioned), "
            f"changes over 27 days: {', '.join(f'{k} {v:,}' for k, v in big.changes.items())}; "
            f"log {big.events:,} events; now = {now:%Y-%m-%d %H:%M} UTC. Seeding: "
            f"{big.commands:,} commands at {big.seed_rate:,.0f}/s without per-command "
            f"catch-up, then one catch-up of the log in {big.catch_up_seconds:.1f}s "
            f"({big.events / big.catch_up_seconds:,.0f} events/s).")

        def read(ledger: Any = ledger, pid: str = pid, now: Any = now) -> dict[str, Any]:
            return ledger.read_model.read(upcoming_invoice, partner_id=pid, now=now)

        answer = read()
        if answer["line_count"] != big.live_lines:
            notes.append(f"**{backend}: the upcoming invoice counts {answer['line_count']} "
                         f"lines, the seeding left {big.live_lines}: figures suspect.**")
        progress(f"upcoming invoice on {backend}: {calls} in-process reads")
        samples = latencies(read, n=calls, warmup=10)
        in_process = latency_figures(f"{backend} in-process", samples, p99_target_ms=TARGET_MS,
                                     p50_target_ms=TARGET_MS)
        figures += in_process

        progress(f"upcoming invoice on {backend}: {calls} HTTP requests (TestClient)")
        url = f"/v1/partners/{pid}/billing/upcoming-invoice"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with _http_client(ledger) as client:
            body = client.get(url, headers=headers)
            if body.status_code != 200:
                notes.append(f"**{backend}: HTTP answered {body.status_code}: {body.text}**")
            elif body.json() != json.loads(json.dumps(answer, default=str)):
                notes.append(f"{backend}: the HTTP body differs from the in-process answer "
                             "(serialisation), figures kept.")

            def request(client: Any = client, url: str = url,
                        headers: dict[str, str] = headers) -> None:
                client.get(url, headers=headers)

            http = latencies(request, n=calls, warmup=10)
        figures += latency_figures(f"{backend} HTTP (TestClient, reference)", http)
        items = len(answer["items"])
        notes.append(f"{backend}: the answer has {items} items, subtotal {answer['subtotal']} "
                     f"minor units.")
        if not all(met(f) for f in in_process):
            text, _ = profile(lambda read=read: [read() for _ in range(50)])
            profiles[f"{backend}: 50 upcoming-invoice reads"] = text
    if ctx.postgres_problem:
        figures.append(figure("postgres", None, "", note=ctx.postgres_problem))
    return {"figures": figures, "notes": notes, "profiles": profiles}

"""Reads that must not cost without bound (issue 12), over HTTP (FastAPI's TestClient) on
the big partner of `common.big_partner`, on SQLite and PostgreSQL:

* distinct `as_of` values: the lines overview read with an `as_of` time that varies by a
  microsecond per request, and with `as_of=position:<n>` past the end of the log varying
  by one per request, against the same run's live read of the same view. Each series runs
  for a fixed time budget (or a number of requests) and reports requests/s and how many
  replicas were built (`build_replica` calls, counted by wrapping it);
* the charge explanation of the issued invoice's largest item: the first page's size in
  bytes and its time, and the number of pages to walk all of its events;
* the verification call (`GET /v1/admin/verify`): how long the call takes to answer, and
  how long until its report is there (the same when the call runs the walk itself).

The clock is moved past the end of the partner's first month, so the cycle close issues
the invoice that the explanation reads.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from bench.common import (
    ADMIN_TOKEN,
    PERIOD_START,
    BigPartner,
    Context,
    figure,
    percentile,
    progress,
)
from service.runtime import as_of as service_as_of

TITLE = "Bounded reads: distinct as-of values, charge explanation, verification"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FAR = 10**12  # a log position far past the end


def _client(ledger: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        from service.api.app import create_app
    return TestClient(create_app(ledger, run_scheduler=False), raise_server_exceptions=False)


@contextmanager
def counted_builds() -> Iterator[list[int]]:
    """Counts the replicas built while inside (wraps `service.runtime.as_of.build_replica`)."""
    original = service_as_of.build_replica
    count = [0]

    def counting(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(*args, **kwargs)

    service_as_of.build_replica = counting
    try:
        yield count
    finally:
        service_as_of.build_replica = original


def series(get: Callable[[int], Any], *, budget_s: float,
           most: int) -> tuple[float, int, list[float], int]:
    """Requests `get(i)` for i = 0, 1, … until the budget or `most` requests are spent;
    (requests/s, requests, latencies, replicas built)."""
    samples: list[float] = []
    with counted_builds() as built:
        t0 = time.perf_counter()
        while len(samples) < most and time.perf_counter() - t0 < budget_s:
            t1 = time.perf_counter()
            response = get(len(samples))
            samples.append(time.perf_counter() - t1)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
        elapsed = time.perf_counter() - t0
    return len(samples) / elapsed, len(samples), samples, built[0]


def _as_of_figures(backend: str, client: Any, big: BigPartner, *, budget_s: float,
                   most: int) -> tuple[list[dict[str, Any]], list[str]]:
    url = f"/v1/partners/{big.partner_id}/lines/overview"
    base = big.now - timedelta(days=3)
    kinds: dict[str, Callable[[int], Any]] = {
        "live": lambda i: client.get(url, headers=ADMIN),
        "as_of time, +1 µs per request": lambda i: client.get(url, headers=ADMIN, params={
            "as_of": (base + timedelta(microseconds=i)).isoformat()}),
        "as_of position past the end, +1 per request": lambda i: client.get(
            url, headers=ADMIN, params={"as_of": f"position:{FAR + i}"}),
    }
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    live_rate = None
    for name, get in kinds.items():
        get(0)  # warm: the first read of a kind may build what the rest reuse
        progress(f"bounded reads on {backend}: {name}")
        rate, n, samples, built = series(get, budget_s=budget_s, most=most)
        if live_rate is None:
            live_rate = rate
        share = f"; {rate / live_rate:.0%} of live" if name != "live" else ""
        figures.append(figure(f"{backend} overview {name}", rate, "/s",
                              note=f"{n} requests in the budget, {built} replicas built; "
                                   f"p50 {percentile(samples, 50) * 1000:.1f} ms, max "
                                   f"{max(samples) * 1000:.1f} ms{share}"))
    notes.append(f"{backend}: as_of times from {base:%Y-%m-%d %H:%M} UTC (+1 µs each); "
                 f"positions from {FAR:,} (+1 each); the log holds {big.events:,} events.")
    return figures, notes


def _issue_invoice(big: BigPartner) -> None:
    """Moves the clock past the month's end, so the cycle close issues its invoice."""
    target = PERIOD_START + timedelta(days=31, hours=6)
    if big.ledger.clock.now() < target:
        big.ledger.scheduler.advance(target)
        big.ledger.caught_up()


def _explain_figures(backend: str, client: Any, big: BigPartner,
                     *, calls: int) -> tuple[list[dict[str, Any]], list[str]]:
    base = f"/v1/partners/{big.partner_id}"
    _issue_invoice(big)
    invoices = client.get(f"{base}/invoices", headers=ADMIN).json()["data"]
    if not invoices:
        return [figure(f"{backend} explain", None, "", note="no invoice issued")], []
    invoice = invoices[-1]
    index = max(range(len(invoice["items"])), key=lambda i: invoice["items"][i]["line_days"])
    url = f"{base}/invoices/{invoice['id']}/items/{index}/explain"
    progress(f"bounded reads on {backend}: {calls} × explain of item {index}")
    samples, size = [], 0
    first: dict[str, Any] = {}
    for _ in range(calls):
        t0 = time.perf_counter()
        response = client.get(url, headers=ADMIN)
        samples.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(f"explain: {response.status_code}: {response.text[:300]}")
        size, first = len(response.content), response.json()
    pages, events, cursor = 1, len(first.get("events", [])), first.get("next_cursor")
    while cursor:
        page = client.get(url, headers=ADMIN, params={"cursor": cursor}).json()
        pages += 1
        events += len(page["events"])
        cursor = page.get("next_cursor")
    figures = [
        figure(f"{backend} explain first answer size", size / 1024, "KiB",
               note=f"item {index}: {invoice['items'][index]['line_days']:,} line-days, "
                    f"{len(first.get('lines', [])):,} lines, {len(first.get('days', []))} "
                    f"days, {len(first.get('events', [])):,} events on this page"),
        figure(f"{backend} explain first answer p50", percentile(samples, 50) * 1000, "ms",
               note=f"{calls} calls, max {max(samples) * 1000:.1f} ms"),
        figure(f"{backend} explain pages to walk every event", pages, "",
               note=f"{events:,} events in all"),
    ]
    return figures, []


def _verify_figures(backend: str, client: Any) -> list[dict[str, Any]]:
    progress(f"bounded reads on {backend}: verification")
    t0 = time.perf_counter()
    response = client.get("/v1/admin/verify", headers=ADMIN)
    answered = time.perf_counter() - t0
    body = response.json()
    if response.status_code == 202:
        while body["status"] == "running":
            time.sleep(0.05)
            body = client.get(f"/v1/admin/verify/{body['id']}", headers=ADMIN).json()
        report = body["result"] or {}
    else:
        report = body
    done = time.perf_counter() - t0
    return [
        figure(f"{backend} verify call answered", answered * 1000, "ms",
               note=f"HTTP {response.status_code}"),
        figure(f"{backend} verify report ready", done, "s",
               note=f"{report.get('events_checked', 0):,} events, "
                    f"{report.get('invoices_checked', 0)} invoices, ok "
                    f"{report.get('ok')}"),
    ]


def run(ctx: Context) -> dict[str, Any]:
    budget_s = 5.0 if ctx.quick else 15.0
    most = 200 if ctx.quick else 1_000
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    for backend in ctx.backends:
        big = ctx.big_partner(backend)
        with _client(big.ledger) as client:
            figs, more = _as_of_figures(backend, client, big, budget_s=budget_s, most=most)
            figures += figs
            notes += more
            figs, more = _explain_figures(backend, client, big, calls=3 if ctx.quick else 10)
            figures += figs
            notes += more
            figures += _verify_figures(backend, client)
    if ctx.postgres_problem:
        figures.append(figure("postgres", None, "", note=ctx.postgres_problem))
    return {"figures": figures, "notes": notes}

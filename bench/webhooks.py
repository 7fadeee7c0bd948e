"""Webhook delivery (issue 16): deliveries per second to a local receiver, and the delay
from a command's answer to its delivery (p50, p99) while commands keep coming.

On each backend: a partner with one endpoint on a loopback receiver (which verifies every
signature). Throughput: N events recorded first, then the runner started and timed until
the receiver has all N. Lag: the runner running, commands issued one after another from
another thread; each event's lag is its arrival at the receiver minus the moment its
command answered.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import (
    OPS,
    STANDARD,
    Context,
    figure,
    percentile,
    phone_number,
    progress,
    scratch,
    start_ledger,
)
from projections.public_events import event_id
from service.commands.lines import ProvisionLine
from service.commands.partners import CreatePartner
from service.commands.webhooks import RegisterWebhookEndpoint
from service.webhooks.deliverer import Deliverer
from tests.webhook_receiver import Receiver

TITLE = "Webhooks: deliveries per second, delivery lag under load"
SETTINGS = {"webhook_allow_private": True, "webhook_poll_seconds": 0.02}


def _setup(url: str, receiver: Receiver) -> tuple[Any, Any]:
    ledger = start_ledger(url, **SETTINGS)
    partner = ledger.execute(CreatePartner(name="Hooked", currency="USD", billing_anchor_day=1,
                                           pricing=STANDARD), actor=OPS)
    _, secret = ledger.execute(RegisterWebhookEndpoint(
        partner_id=partner.id, url=receiver.url, event_types=("*",), description=None),
        actor=OPS)
    receiver.secrets = [secret]
    return ledger, partner.id


def _throughput(backend: str, events: int) -> tuple[float, bool]:
    receiver = Receiver().start()
    with scratch(backend, "webhooks_rate") as url:
        ledger, pid = _setup(url, receiver)
        deliverer = Deliverer(ledger)
        try:
            for i in range(events):
                ledger.execute(ProvisionLine(partner_id=pid, phone_number=phone_number(i)),
                               actor=OPS)
            t0 = time.perf_counter()
            deliverer.start()
            got = receiver.wait_for(events, timeout=600)
            seconds = time.perf_counter() - t0
            return events / seconds, all(r.verified for r in got)
        finally:
            deliverer.close()
            ledger.close()
            receiver.stop()


def _lag(backend: str, commands: int) -> list[float]:
    receiver = Receiver().start()
    with scratch(backend, "webhooks_lag") as url:
        ledger, pid = _setup(url, receiver)
        deliverer = Deliverer(ledger)
        answered: dict[str, float] = {}
        try:
            deliverer.start()

            def load() -> None:
                for i in range(commands):
                    line = ledger.execute(ProvisionLine(partner_id=pid,
                                                        phone_number=phone_number(i)),
                                          actor=OPS)
                    answered[event_id(line.id, 1)] = time.monotonic()

            sender = threading.Thread(target=load)
            sender.start()
            sender.join()
            got = receiver.wait_for(commands, timeout=600)
            return [r.at - answered[r.webhook_id] for r in got if r.webhook_id in answered]
        finally:
            deliverer.close()
            ledger.close()
            receiver.stop()


def run(ctx: Context) -> dict[str, Any]:
    events, commands = (300, 200) if ctx.quick else (3_000, 1_000)
    figures = []
    for backend in ctx.backends:
        progress(f"webhooks: {events:,} deliveries to a local receiver ({backend})")
        rate, verified = _throughput(backend, events)
        figures.append(figure(f"deliveries per second ({backend})", rate, "/s",
                              note=f"{events:,} events, one endpoint, signatures "
                                   f"{'all verified' if verified else 'NOT all verified'}"))
        progress(f"webhooks: delivery lag under {commands:,} commands ({backend})")
        lags = _lag(backend, commands)
        figures.append(figure(f"delivery lag p50 ({backend})",
                              percentile(lags, 50) * 1000, "ms"))
        figures.append(figure(f"delivery lag p99 ({backend})",
                              percentile(lags, 99) * 1000, "ms",
                              note=f"{len(lags):,} events; runner polls every "
                                   f"{SETTINGS['webhook_poll_seconds']} s"))
    notes = ["One endpoint delivers in event order, one request at a time (the order "
             "guarantee); several endpoints are delivered in parallel up to "
             "PORTAL_WEBHOOK_CONCURRENCY."]
    return {"figures": figures, "notes": notes, "profiles": {}}

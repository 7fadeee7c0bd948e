"""The FastAPI application: routers, problem+json handlers, and the request pipeline:
authentication, then the body's checks, then idempotent POSTs, then the route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from service.api import authentication, docs, idempotency, problems, request_body
from service.api.routes import (
    alerts,
    analytics,
    billing,
    events,
    keys,
    lines,
    operations,
    partners,
    pricing_requests,
    reconciliation,
    sub_accounts,
    usage,
    webhooks,
)
from service.api.shared_clock import read_shared_clock
from service.bootstrap import Ledger
from service.partitions import Cluster
from service.portal import web as portal
from service.verify_jobs import VerifyJobs
from service.webhooks.runner import Deliverers


def create_app(service: Ledger | Cluster, *, run_scheduler: bool = True) -> FastAPI:
    """The API over one store (a `Ledger`) or over every partition (a `Cluster`)."""
    cluster = service if isinstance(service, Cluster) else Cluster.of(service)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A process that stopped between a charge and its record left the attempt open.
        for ledger in cluster.ledgers:
            ledger.billing.settle_open_attempts()
        deliverers = Deliverers(cluster) if run_scheduler else None
        if run_scheduler:
            cluster.scheduler.start()
        if deliverers is not None:
            deliverers.start()  # webhooks are delivered where the jobs run
        try:
            yield
        finally:
            cluster.scheduler.shutdown()
            if deliverers is not None:
                deliverers.close()
            verify_jobs.close()  # a running verification stops at its next batch

    app = FastAPI(
        title="Partner Ledger",
        version="1.0.0",
        description="Event-sourced billing and lifecycle service behind the partner portal. "
        "Errors are application/problem+json with a stable `code`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(read_shared_clock)],
    )
    app.state.cluster = cluster
    app.state.verify_jobs = verify_jobs = VerifyJobs(cluster.ledgers, settings=cluster.settings)
    problems.install(app)
    # The last middleware added runs first: authentication (headers only), then the
    # body's size, type and JSON checks, then the idempotency claim, then the route.
    app.state.idempotency = idempotency.install(app, cluster)
    request_body.install(app)
    authentication.install(app, cluster)
    for module in (partners, keys, pricing_requests, sub_accounts, lines, billing, operations,
                   usage, analytics, alerts, reconciliation, events, webhooks):
        app.include_router(module.router, responses=problems.RESPONSES)
    docs.install(app)
    portal.install(app)
    return app

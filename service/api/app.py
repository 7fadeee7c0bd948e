"""The FastAPI application: routers, problem+json handlers, and the request pipeline:
authentication, then the body's checks, then idempotent POSTs, then the route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from service.api import (
    authentication,
    docs,
    idempotency,
    partition_gate,
    problems,
    read_only_gate,
    request_body,
)
from service.api.routes import (
    alerts,
    analytics,
    billing,
    credit_notes,
    documents,
    events,
    keys,
    lines,
    me,
    operations,
    partners,
    pricing_requests,
    reconciliation,
    sub_accounts,
    tax,
    usage,
    webhooks,
)
from service.api.shared_clock import read_shared_clock
from service.ops.verify_jobs import VerifyJobs
from service.portal import web as portal
from service.runtime.bootstrap import Ledger
from service.runtime.partition_health import PartitionUnavailable
from service.runtime.partitions import Cluster
from service.webhooks.runner import Deliverers


def create_app(service: Ledger | Cluster, *, run_scheduler: bool = True) -> FastAPI:
    """The API over one store (a `Ledger`) or over every partition (a `Cluster`)."""
    cluster = service if isinstance(service, Cluster) else Cluster.of(service)
    read_only = cluster.settings.read_only

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # A process that stopped between a charge and its record left the attempt open.
        for ledger in cluster.ledgers if not read_only else ():
            try:
                ledger.billing.settle_open_attempts()
            except PartitionUnavailable:  # its guard logged it; the others start
                continue
        deliverers = Deliverers(cluster) if run_scheduler and not read_only else None
        if run_scheduler and not read_only:  # a read-only process (a standby's) writes nothing
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
    # The last middleware added runs first: the partition gate, authentication (headers
    # only), then the body's size, type and JSON checks, then the idempotency claim, then
    # the committed-answer guard, then the route.
    partition_gate.install_inner(app)  # next to the routes: a committed command's answer
    app.state.idempotency = idempotency.install(app, cluster)
    request_body.install(app)
    authentication.install(app, cluster)
    partition_gate.install_outer(app, cluster)  # an unavailable partition's 503
    if read_only:
        read_only_gate.install(app)
    for module in (partners, keys, me, pricing_requests, sub_accounts, lines, billing, operations,
                   usage, analytics, alerts, reconciliation, credit_notes, tax, documents,
                   events, webhooks):
        app.include_router(module.router, responses=problems.RESPONSES)
    docs.install(app)
    portal.install(app)
    return app

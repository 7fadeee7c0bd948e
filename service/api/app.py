"""The FastAPI application: routers, problem+json handlers, idempotent POSTs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import idempotency, problems
from service.api.idempotency import IdempotencyStore
from service.api.routes import (
    alerts,
    analytics,
    billing,
    lines,
    operations,
    partners,
    sub_accounts,
    usage,
)
from service.bootstrap import Ledger
from service.partitions import Cluster
from service.portal import web as portal


def create_app(service: Ledger | Cluster, *, run_scheduler: bool = True) -> FastAPI:
    """The API over one store (a `Ledger`) or over every partition (a `Cluster`)."""
    cluster = service if isinstance(service, Cluster) else Cluster.of(service)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_scheduler:
            cluster.scheduler.start()
        try:
            yield
        finally:
            cluster.scheduler.shutdown()

    app = FastAPI(
        title="Partner Ledger",
        version="1.0.0",
        description="Event-sourced billing and lifecycle service behind the partner portal. "
        "Errors are application/problem+json with a stable `code`.",
        lifespan=lifespan,
    )
    app.state.cluster = cluster
    store = IdempotencyStore(cluster.home.read_model, cluster.home.clock.now)
    problems.install(app)
    idempotency.install(app, store)
    for module in (partners, sub_accounts, lines, billing, operations, usage, analytics,
                   alerts):
        app.include_router(module.router, responses=problems.RESPONSES)
    portal.install(app)
    return app

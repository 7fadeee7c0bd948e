"""Every request reads the manual clock as the database holds it, so that all API workers
answer one time (service/runtime/clock.py). With the system clock this costs nothing."""

from __future__ import annotations

import logging

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from service.runtime.clock import DATABASE_ERRORS, Clock

log = logging.getLogger(__name__)


async def read_shared_clock(request: Request) -> None:
    """Runs before every route. Async, so that the system clock (nothing to read) costs no
    worker-thread hop; a manual clock's database read runs off the event loop."""
    clock: Clock = request.app.state.cluster.clock
    if clock.manual:
        await run_in_threadpool(_refresh, clock)


def _refresh(clock: Clock) -> None:
    """A database that cannot be read is not this step's to report: the request's own
    reads and writes fail on their own terms (and `/healthz` answers 503 as it should),
    so the clock keeps the time it last read."""
    try:
        clock.refresh()
    except DATABASE_ERRORS:
        log.warning("could not read the shared manual clock; keeping the time last read",
                    exc_info=True)

"""Every request reads the manual clock as the database holds it, so that all API workers
answer one time (service/clock.py). With the system clock this costs nothing."""

from __future__ import annotations

import logging

from fastapi import Request

from service.clock import DATABASE_ERRORS

log = logging.getLogger(__name__)


def read_shared_clock(request: Request) -> None:
    """Runs before every route. A database that cannot be read is not this step's to
    report: the request's own reads and writes fail on their own terms (and `/healthz`
    answers 503 as it should), so the clock keeps the time it last read."""
    try:
        request.app.state.cluster.clock.refresh()
    except DATABASE_ERRORS:
        log.warning("could not read the shared manual clock; keeping the time last read",
                    exc_info=True)

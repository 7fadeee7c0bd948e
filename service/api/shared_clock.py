"""Every request reads the manual clock as the database holds it, so that all API workers
answer one time (service/clock.py). With the system clock this costs nothing."""

from __future__ import annotations

from fastapi import Request


def read_shared_clock(request: Request) -> None:
    request.app.state.cluster.home.clock.refresh()

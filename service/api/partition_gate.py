"""The request pipeline's part in fault isolation and in answering committed commands.

* `PartitionGateMiddleware` runs first, before authentication: a request for a partner
  whose partition's breaker is open gets 503 `partition_unavailable` at once, holding no
  worker thread; and at most half of the worker threads serve one partition at a time
  (more wait on the event loop, not in a thread), so a partition whose server hangs
  can never take the threads that the other partners need. It also opens the request's
  commit log (service/commands/committed.py).
* `CommittedAnswerMiddleware` runs last, next to the routes: a failure after the request
  committed (the read-back, the catch-up, a database that went away after the commit)
  answers 202 with the recorded aggregate's id and a `Location` to read it, never a 5xx
  that invites the client to send the command again. The idempotency middleware, outside
  it, keeps that 202 as the key's answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.asgi import HttpMiddleware, answering
from service.api.problems import problem
from service.commands.committed import CURRENT, CommitLog
from service.runtime.partition_health import PartitionGuard, PartitionUnavailable
from service.runtime.partitions import Cluster, partition_of

log = logging.getLogger(__name__)

COMMITS = "partner_ledger.commits"
_PARTNER_PATH = re.compile(r"^/v1/partners/([0-9a-fA-F-]{32,36})(?:/|$)")
_WAIT_SECONDS = 0.02  # how often a request waiting for a slot looks again


def unavailable(exc: PartitionUnavailable) -> JSONResponse:
    return problem(503, "partition_unavailable",
                   f"this partner's store (partition {exc.index}) does not answer; other "
                   "partners are served. Retry later.", headers={"Retry-After": "1"})


def answer_failure(scope: Scope, exc: Exception) -> JSONResponse | None:
    """The answer for `exc` raised while serving `scope`: 202 when the request committed
    something, 503 for an unreachable partition, None to let the error take its course."""
    commits = scope.get(COMMITS)
    # A read may have let the policies record (a catch-up): still a read, never a 202.
    command = scope.get("method") not in ("GET", "HEAD", "OPTIONS")
    if command and isinstance(commits, CommitLog) and commits.committed:
        log.error("%s %s committed, then failed; answering 202", scope.get("method"),
                  scope.get("path"), exc_info=exc)
        return accepted(scope, commits)
    if isinstance(exc, PartitionUnavailable):
        return unavailable(exc)
    return None


def accepted(scope: Scope, commits: CommitLog) -> JSONResponse:
    aggregate_id, location = _location(scope, commits)
    return JSONResponse(
        {"status": "accepted", "id": str(aggregate_id),
         "detail": "the command was recorded, but its answer could not be read back; "
                   "read it at Location (do not send the command again)"},
        status_code=202, headers={"Location": location})


def _is_id(segment: str) -> bool:
    try:
        UUID(segment)
    except ValueError:
        return False
    return True


def _location(scope: Scope, commits: CommitLog) -> tuple[UUID, str]:
    """The aggregate the command recorded and where to read it: a POST that created one
    answers `<path>/<its id>`; a command on a resource (`…/{id}/action`) the resource."""
    path: str = scope.get("path", "")
    created = [aggregate_id for aggregate_id, _, new in commits.saved if new]
    if scope.get("method") == "POST" and created and not _is_id(path.rsplit("/", 1)[-1]):
        return created[0], f"{path.rstrip('/')}/{created[0]}"
    parent, _, last = path.rstrip("/").rpartition("/")
    if not _is_id(last) and _is_id(parent.rpartition("/")[2]):
        path = parent
    return (created or [commits.saved[0][0]])[0], path


class PartitionGateMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        super().__init__(app)
        self.cluster = cluster

    def _guard(self, path: str) -> PartitionGuard | None:
        match = _PARTNER_PATH.match(path)
        if match is None or len(self.cluster.guards) != len(self.cluster.ledgers):
            return None
        try:
            partner_id = UUID(match.group(1))
        except ValueError:
            return None
        return self.cluster.guards[partition_of(partner_id, len(self.cluster.ledgers))]

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        commits = CommitLog()
        scope[COMMITS] = commits
        token = CURRENT.set(commits)
        try:
            guard = self._guard(scope["path"])
            if guard is None:
                await self.app(scope, receive, send)
                return
            if not await self._slot(guard):
                await unavailable(PartitionUnavailable(guard.index, guard.breaker.reason))(
                    scope, receive, send)
                return
            try:
                await self.app(scope, receive, send)
            finally:
                guard.in_flight -= 1
        finally:
            CURRENT.reset(token)

    async def _slot(self, guard: PartitionGuard) -> bool:
        """Takes one of the partition's slots (waiting on the event loop while they are
        all taken); False as soon as the partition's breaker is open."""
        limit = self._limit()
        while True:
            if not guard.breaker.allows:
                return False
            if guard.in_flight < limit:
                guard.in_flight += 1  # the event loop's thread alone counts: no lock
                return True
            await anyio.sleep(_WAIT_SECONDS)

    def _limit(self) -> int:
        if len(self.cluster.ledgers) == 1:
            return 1 << 30  # one partition: the thread pool itself is the bound
        threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
        return max(1, threads // 2)


class CommittedAnswerMiddleware(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await answering(self.app, scope, receive, send,
                        lambda error: answer_failure(scope, error))


def install_inner(app: FastAPI) -> None:
    """Next to the routes: call before the other middlewares are added."""

    @app.exception_handler(PartitionUnavailable)
    async def _partition(request: Request, exc: PartitionUnavailable) -> Any:
        return answer_failure(request.scope, exc) or unavailable(exc)

    app.add_middleware(CommittedAnswerMiddleware)


def install_outer(app: FastAPI, cluster: Cluster) -> None:
    """First of all: call after the other middlewares are added."""
    app.add_middleware(PartitionGateMiddleware, cluster=cluster)



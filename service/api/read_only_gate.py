"""The HTTP side of a read-only process (`PORTAL_READ_ONLY=true`, a standby's; see
`service/runtime/read_only.py`): a command is refused 503 `read_only` before anything
runs, and a read that would write after all meets the standby's refusal, answered the
same way."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from service.api.asgi import HttpMiddleware, answering
from service.api.problems import problem
from service.runtime.read_only import DETAIL, ReadOnly, refused_by_database

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refusal(error: BaseException | None = None) -> JSONResponse:
    # A write this process refused itself says what it was; the database's refusal doesn't.
    return problem(503, "read_only", str(error) if isinstance(error, ReadOnly) else DETAIL)


class ReadOnlyMiddleware(HttpMiddleware):
    """Answers every request that is not a read 503 `read_only`, before authentication,
    idempotency or the route run (they would write), and turns a write refused by the
    database into the same answer."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in SAFE_METHODS:
            await refusal()(scope, receive, send)
            return
        await answering(self.app, scope, receive, send,
                        lambda error: refusal(error) if refused_by_database(error) else None)


def install(app: FastAPI) -> None:
    """Runs first (added last): a command is refused before anything reads or writes. A
    write this process refuses itself inside a route is answered next to the routes."""

    @app.exception_handler(ReadOnly)
    async def _read_only(_: Request, exc: ReadOnly) -> JSONResponse:
        return refusal(exc)

    app.add_middleware(ReadOnlyMiddleware)

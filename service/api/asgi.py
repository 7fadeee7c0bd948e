"""What the API's pure ASGI middlewares share: HTTP requests only, and an answer in place
of a failure.

The middlewares are plain ASGI: one that refuses a request, before the app runs or in
its place, sends a problem+json response (`service.api.problems.problem`) straight to
the ASGI `send`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMiddleware(ABC):
    """A middleware of HTTP requests: lifespan and websocket traffic pass through, and so
    do the requests it does not concern."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def concerns(self, scope: Scope) -> bool:
        """Whether this HTTP request is one the middleware acts on (by default, all)."""
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.concerns(scope):
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serves one HTTP request (`self.app` is the rest of the pipeline)."""


async def answering(app: ASGIApp, scope: Scope, receive: Receive, send: Send,
                    answer: Callable[[Exception], Response | None]) -> None:
    """Runs `app`; when it raises before its answer began, sends `answer(error)` instead.
    The error goes on up when `answer` gives None, or when the answer had begun (the
    client holds part of one already: a second would garble it)."""
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, tracked)
    except Exception as error:
        response = None if started else answer(error)
        if response is None:
            raise
        await response(scope, receive, send)

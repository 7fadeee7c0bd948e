"""Exceptions raised in the ASGI middlewares, answered by the app's own handlers.

Starlette runs the handlers registered with `app.exception_handler` inside the router's
ExceptionMiddleware, which sits below every middleware added with `add_middleware`. A
middleware that authenticates or claims an idempotency key before routing would
otherwise turn an `ApiProblem` 401 or a partition's outage (a handler of its own, say a
503) into a bare 500. The handler table is read at call time, so handlers registered
after the middleware was added apply too.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


async def answer_exception(handlers: Mapping[Any, Any], exc: Exception, scope: Scope,
                           receive: Receive, send: Send) -> None:
    """Sends the answer of the handler registered for `exc`'s class (or the nearest base
    class below `Exception`); re-raises when there is none, for the server-error
    handler to answer 500."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            break
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = handler(Request(scope, receive), exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)
            return
    raise exc

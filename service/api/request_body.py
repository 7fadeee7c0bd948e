"""Request bodies, checked before any route sees them: size, media type, strict JSON.

* Size: 1 MiB, and `USAGE_BATCH_LIMIT` for usage batches. A declared Content-Length over
  the limit is refused before one byte is read; a body without one (chunked) is counted
  while it streams in and refused as soon as it passes the limit, the rest unread.
  413 `payload_too_large` either way.
* A body on a /v1 route must be JSON: another Content-Type, or none, is 415
  `unsupported_media_type`.
* JSON is held to the standard the parser forgives: UTF-8 only, no NaN or Infinity, no
  object that names a key twice (at any depth; Python keeps the last one silently, so
  `{"amount": 1, "amount": 1000000}` would mean whatever the reader's parser picks).
  422 `validation_error`, naming the key or the fault.

The body is buffered (never more than the limit) and handed on unchanged, so the
idempotency middleware and the route read the same bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from aggregates.usage import MAX_BATCH
from service.api.asgi import HttpMiddleware
from service.api.authentication import is_api
from service.api.problems import problem

MiB = 1 << 20
DEFAULT_LIMIT = 1 * MiB
# A usage batch holds up to MAX_BATCH (10,000) rows; a row with a 64-character line id,
# counts in the billions and pretty-printing is under 600 bytes: 6 MB. 8 MiB leaves room
# (tests/api/test_request_limits.py builds such a batch).
LARGEST_USAGE_ROW = 600
USAGE_BATCH_LIMIT = max(8 * MiB, MAX_BATCH * LARGEST_USAGE_ROW)
LARGER_LIMITS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("POST", re.compile(r"^/v1/partners/[^/]+/usage/?$"), USAGE_BATCH_LIMIT),
)
_DETAIL_KEY_CHARS = 80  # a hostile key may be a megabyte long; the answer names its start


def limit_for(method: str, path: str) -> int:
    for route_method, pattern, limit in LARGER_LIMITS:
        if method == route_method and pattern.match(path):
            return limit
    return DEFAULT_LIMIT


def is_json_media_type(content_type: str | None) -> bool:
    """application/json or application/*+json, in UTF-8 if a charset is named."""
    if content_type is None:
        return False  # FastAPI would not read it as JSON either: say why, not "not an object"
    media, _, parameters = content_type.partition(";")
    media = media.strip().lower()
    if not (media == "application/json"
            or (media.startswith("application/") and media.endswith("+json"))):
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and \
                value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(key)
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_fault(body: bytes) -> str | None:
    """Why `body` is not strict JSON; None when it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"the body is not UTF-8 (byte {e.start})"
    try:
        json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except DuplicateKey as e:
        shown = e.key if len(e.key) <= _DETAIL_KEY_CHARS else e.key[:_DETAIL_KEY_CHARS] + "…"
        return f"the key {json.dumps(shown)} appears twice in one JSON object"
    except RecursionError:
        return "the body's JSON is nested too deeply"
    except ValueError as e:  # JSONDecodeError, NaN/Infinity, integers past 4,300 digits
        return f"the body is not valid JSON: {e}"
    return None


class BodyTooLarge(Exception):
    pass


class Disconnected(Exception):
    pass


async def read_within(receive: Receive, limit: int) -> bytes:
    """The whole body; BodyTooLarge as soon as it passes `limit` (the rest unread)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out `body` in one message, then defers to the server's
    (which reports the client's disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _too_large(limit: int) -> Any:
    return problem(413, "payload_too_large",
                   f"the request body may hold at most {limit} bytes here", limit=limit)


class RequestBodyMiddleware(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        limit = limit_for(scope["method"], scope["path"])
        declared = headers.get("content-length")
        json_route = is_api(scope["path"])
        if declared is not None:
            if not declared.strip().isdigit():
                await problem(400, "bad_request", "Content-Length is not a number")(
                    scope, receive, send)
                return
            if int(declared) > limit:
                await _too_large(limit)(scope, receive, send)
                return
            if json_route and int(declared) > 0 and \
                    not is_json_media_type(headers.get("content-type")):
                await _unsupported(scope, receive, send, headers)
                return
        try:
            body = await read_within(receive, limit)
        except BodyTooLarge:
            await _too_large(limit)(scope, receive, send)
            return
        except Disconnected:
            return  # nobody is left to answer
        if json_route and body:
            if not is_json_media_type(headers.get("content-type")):
                await _unsupported(scope, receive, send, headers)
                return
            fault = json_fault(body)
            if fault is not None:
                await problem(422, "validation_error", fault,
                              errors=[{"loc": ["body"], "msg": fault}])(scope, receive, send)
                return
        await self.app(scope, replaying(body, receive), send)


async def _unsupported(scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
    shown = (headers.get("content-type") or "")[:_DETAIL_KEY_CHARS]
    await problem(415, "unsupported_media_type",
                  f"send the body as application/json (UTF-8), not {shown!r}")(
        scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(RequestBodyMiddleware)

"""`Idempotency-Key` on every POST: the same key and body answer the first response again
and record nothing new; the same key with another body is refused (422).

Keys are scoped to the caller's credential, so two callers never see each other's
answers. Responses of 5xx are not kept: the client may retry them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from fastapi import FastAPI, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections.read_model import ReadModel
from projections.times import stored
from service.api.problems import problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


class IdempotencyStore:
    def __init__(self, read_model: ReadModel, now: Callable[[], object]) -> None:
        self.read_model = read_model
        self.now = now
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, scope: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(scope, threading.Lock())

    def get(self, scope: str) -> dict[str, object] | None:
        with self.read_model.reading() as sql:
            return sql.one("SELECT request_hash, status, body FROM s_idempotency WHERE scope = ?",
                           scope)

    def put(self, scope: str, request_hash: str, status: int, body: str) -> None:
        with self.read_model.writing() as sql:
            sql.run("INSERT INTO s_idempotency (scope, request_hash, status, body, created_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope) DO NOTHING",
                    scope, request_hash, status, body, stored(self.now()))  # type: ignore[arg-type]


class IdempotencyMiddleware:
    """A plain ASGI middleware: requests other than a POST with the header pass straight
    through, untouched and unbuffered."""

    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            refusal = problem(422, "validation_error",
                              f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters")
            await refusal(scope, receive, send)
            return
        body = await _read_body(receive)
        owner = _digest(headers.get("Authorization", "").encode(), key.encode())
        request_hash = _digest(b"POST", scope["path"].encode(), body)
        lock = self.store.lock(owner)
        await run_in_threadpool(lock.acquire)
        try:
            seen = await run_in_threadpool(self.store.get, owner)
            if seen is not None:
                answer: Response = problem(422, "idempotency_key_reused",
                                           f"this {HEADER} was used with another request") \
                    if seen["request_hash"] != request_hash else Response(
                        content=str(seen["body"]), status_code=int(seen["status"]),
                        media_type=_media_type(int(seen["status"])),
                        headers={"Idempotent-Replayed": "true"})
                await answer(scope, receive, send)
                return
            status, chunks = await self._forward(scope, body, send)
            if status < 500:
                await run_in_threadpool(self.store.put, owner, request_hash, status,
                                        b"".join(chunks).decode())
        finally:
            lock.release()

    async def _forward(self, scope: Scope, body: bytes, send: Send) -> tuple[int, list[bytes]]:
        """Runs the request with its body replayed; returns the status and body sent."""
        delivered = False
        status = 500
        chunks: list[bytes] = []

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay, capture)
        return status, chunks


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def install(app: FastAPI, store: IdempotencyStore) -> None:
    app.add_middleware(IdempotencyMiddleware, store=store)


def _media_type(status: int) -> str:
    return "application/problem+json" if status >= 400 else "application/json"

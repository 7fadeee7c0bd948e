"""`Idempotency-Key` on every POST: the same key and body answer the first response again
and record nothing new; the same key with another body is refused (422).

Keys are scoped to the caller's credential, so two callers never see each other's
answers. Responses of 5xx are not kept: the client may retry them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

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


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def idempotent_posts(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return await call_next(request)
        if not key or len(key) > MAX_KEY_LENGTH:
            return problem(422, "validation_error",
                           f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters")
        store: IdempotencyStore = request.app.state.idempotency
        body = await request.body()
        scope = _digest(request.headers.get("Authorization", "").encode(), key.encode())
        request_hash = _digest(request.method.encode(), request.url.path.encode(), body)
        lock = store.lock(scope)
        await run_in_threadpool(lock.acquire)
        try:
            seen = await run_in_threadpool(store.get, scope)
            if seen is not None:
                if seen["request_hash"] != request_hash:
                    return problem(422, "idempotency_key_reused",
                                   f"this {HEADER} was used with another request")
                return Response(content=str(seen["body"]), status_code=int(seen["status"]),
                                media_type=_media_type(int(seen["status"])),
                                headers={"Idempotent-Replayed": "true"})
            response = await call_next(request)
            content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
            if response.status_code < 500:
                await run_in_threadpool(store.put, scope, request_hash, response.status_code,
                                        content.decode())
            return Response(content=content, status_code=response.status_code,
                            headers=dict(response.headers))
        finally:
            lock.release()


def _media_type(status: int) -> str:
    return "application/problem+json" if status >= 400 else "application/json"

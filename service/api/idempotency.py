"""`Idempotency-Key` on every POST, held in the database across every process.

The same key and request answer the first final answer again and record nothing new;
the same key with another request (method, path, query or body) is refused (422
`idempotency_key_reused`); while the first is still running, a duplicate gets 409
`idempotency_key_in_use`.

* Keys are scoped to the authenticated API key (its id, not the header's spelling), and
  checked after authentication: an unauthenticated call never reaches this middleware's
  table, and a revoked key's replay is a 401 like any of its requests.
* A request claims its key before the command runs: one INSERT under the primary key
  (api key id, Idempotency-Key) of `projections.idempotency_records`, in the partner's
  partition (the home partition for platform requests). The claim has a lease, renewed
  while the command runs, so a claim left by a process that died lapses and the key
  becomes usable again.
* Only final answers are kept: 2xx, and 4xx that a retry would repeat. Never 5xx, 401,
  408, 429, or a 409 that says "try again" (`RETRYABLE_CONFLICTS`): then the claim is
  released and a retry runs the command.
* An answer is stored before it is sent, so a client that saw it finds it on retry.
* A route whose answer holds a secret declares it (`dependencies=[withholds("token")]`):
  the stored answer has the field set to null plus `"<field>_shown": false`, so the
  secret is never written to the table and a replay says it was withheld.
* Answers are kept `PORTAL_IDEMPOTENCY_TTL_HOURS` (service clock); each claim then
  prunes at most `PRUNE_BATCH` rows past their time from its partition.

A process that dies after its command committed and before the answer was stored
leaves a claim that lapses: the retry then runs the command again. Commands whose second
run would differ (a credit grant) are the ones to retry only with the same key after
reading the state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
from fastapi import Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projections import idempotency_records as records
from projections.times import stored
from service.api.asgi import HttpMiddleware
from service.api.auth import PRINCIPAL, Principal, partition_of_path
from service.api.edge_errors import answer_exception
from service.api.problems import problem
from service.api.request_body import replaying
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# How long a claim holds without renewal; the holder renews it every quarter of that,
# so only a claim whose process stopped lapses.
CLAIM_LEASE_SECONDS = 120.0
PRUNE_BATCH = 100
RETRYABLE_CONFLICTS = frozenset({"version_conflict", "idempotency_key_in_use",
                                 "payment_in_progress"})
RETRYABLE_CLIENT_ERRORS = frozenset({401, 408, 425, 429})
# The request scope's slot for the top-level answer fields that hold a secret.
WITHHELD = "partner_ledger.withheld"


def withholds(*fields: str) -> Any:
    """A route dependency: the answer's `fields` hold a secret, shown once and never
    stored; a replay answers them null with `"<field>_shown": false`."""
    def mark(request: Request) -> None:
        request.scope[WITHHELD] = fields

    return Depends(mark)


def request_digest(method: str, path: str, query: bytes, body: bytes) -> str:
    """What "the same request" means: method, path, query and body, byte for byte.
    Each part is hashed on its own, so no two different requests share a digest."""
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in key)


class IdempotencyRecords:
    """The idempotency table of every partition, with the times and the lease."""

    def __init__(self, cluster: Cluster, *, ttl: timedelta,
                 lease_seconds: float = CLAIM_LEASE_SECONDS,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.cluster = cluster
        self.ttl = ttl
        self.lease_seconds = lease_seconds
        self.wall_ms = wall_ms

    def _clock(self) -> records.Clock:
        return records.Clock(now=stored(self.cluster.clock.now()), wall_ms=self.wall_ms())

    def _expiry(self) -> str:
        return stored(self.cluster.clock.now() + self.ttl)

    @property
    def lease_ms(self) -> int:
        return int(self.lease_seconds * 1000)

    def claim(self, ledger: Ledger, key_id: str, key: str,
              request_hash: str) -> records.Claimed | records.Held:
        claim_id = uuid.uuid4().hex
        for _ in range(5):
            with ledger.read_model.writing() as sql:
                outcome = records.claim(sql, key_id=key_id, key=key, request_hash=request_hash,
                                        claim_id=claim_id, clock=self._clock(),
                                        lease_ms=self.lease_ms, expires_at=self._expiry())
            if outcome is not None:
                return outcome
        # The row changed under us five times running: others are at work on this key.
        return records.Held(same_request=True, state="in_flight", status=None,
                            content_type=None, body=None)

    def finish(self, ledger: Ledger, key_id: str, key: str, claim_id: str, status: int,
               content_type: str | None, body: str) -> bool:
        with ledger.read_model.writing() as sql:
            return records.finish(sql, key_id=key_id, key=key, claim_id=claim_id,
                                  status=status, content_type=content_type, body=body,
                                  expires_at=self._expiry())

    def release(self, ledger: Ledger, key_id: str, key: str, claim_id: str) -> None:
        with ledger.read_model.writing() as sql:
            records.release(sql, key_id=key_id, key=key, claim_id=claim_id)

    def renew(self, ledger: Ledger, key_id: str, key: str, claim_id: str) -> bool:
        with ledger.read_model.writing() as sql:
            return records.renew(sql, key_id=key_id, key=key, claim_id=claim_id,
                                 lease_until=self.wall_ms() + self.lease_ms)

    def prune(self, ledger: Ledger, limit: int = PRUNE_BATCH) -> int:
        with ledger.read_model.writing() as sql:
            return records.prune(sql, clock=self._clock(), limit=limit)


@dataclass
class Answer:
    """A response as the app sent it, held back until it is stored."""

    start: Message | None = None
    messages: list[Message] = field(default_factory=list)

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages
                        if m["type"] == "http.response.body")

    @property
    def content_type(self) -> str | None:
        if self.start is None:
            return None
        return Headers(raw=self.start.get("headers", [])).get("content-type")


def _code(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("code") if isinstance(document, dict) else None


def is_final(status: int, body: bytes) -> bool:
    """An answer a retry would repeat: 2xx, and 4xx other than "try again"."""
    if 200 <= status < 300:
        return True
    if 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS:
        return not (status == 409 and _code(body) in RETRYABLE_CONFLICTS)
    return False


def storable(answer: Answer, withheld: tuple[str, ...]) -> str | None:
    """The text to keep for `answer`: with its secret fields withheld; None when it
    cannot be kept safely (not text, or a secret in a body that is not a JSON object)."""
    try:
        text = answer.body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not withheld or not 200 <= answer.status < 300:
        return text
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    for name in withheld:
        if name in document:
            document[name] = None
            document[f"{name}_shown"] = False
    return json.dumps(document, separators=(",", ":"))


class IdempotencyMiddleware(HttpMiddleware):
    """A plain ASGI middleware: requests other than an authenticated POST with the header
    pass straight through, untouched."""

    def __init__(self, app: ASGIApp, records: IdempotencyRecords,
                 handlers: Mapping[Any, Any]) -> None:
        super().__init__(app)
        self.records = records
        self.handlers = handlers

    def concerns(self, scope: Scope) -> bool:
        return scope["method"] == "POST"

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = Headers(scope=scope).get(HEADER)
        who = scope.get(PRINCIPAL)
        if key is None or not isinstance(who, Principal):
            # No principal: not an API route (those answer 401 before this point), so
            # there is no one to scope the key to and nothing is kept.
            await self.app(scope, receive, send)
            return
        if not _valid_key(key):
            await problem(422, "validation_error", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} "
                          "printable ASCII characters")(scope, receive, send)
            return
        body = await _read_body(receive)  # buffered and bounded by RequestBodyMiddleware
        request_hash = request_digest(scope["method"], scope["path"],
                                      scope.get("query_string", b""), body)
        ledger = partition_of_path(self.records.cluster, scope["path"])
        try:
            outcome = await run_in_threadpool(self.records.claim, ledger, who.key_id, key,
                                              request_hash)
        except Exception as exc:
            await answer_exception(self.handlers, exc, scope, receive, send)
            return
        if isinstance(outcome, records.Held):
            await _held_answer(outcome)(scope, receive, send)
            return
        claim = _Claim(self.records, ledger, who.key_id, key, outcome.claim_id)
        try:
            answer = await self._run(scope, replaying(body, receive), claim)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await claim.let_go()
            raise
        kept = storable(answer, tuple(scope.get(WITHHELD, ())))
        if is_final(answer.status, answer.body) and kept is not None:
            await claim.keep(answer, kept)
        else:
            await claim.let_go()
        for message in (answer.start, *answer.messages):
            if message is not None:
                await send(message)
        await claim.prune()

    async def _run(self, scope: Scope, receive: Receive, claim: _Claim) -> Answer:
        """Runs the request, renewing the claim's lease meanwhile; the answer held back."""
        answer = Answer()
        failure: Exception | None = None

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.start = message
            else:
                answer.messages.append(message)

        finished = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(claim.renew_until, finished)
            try:
                await self.app(scope, receive, hold)
            except Exception as exc:  # re-raised below, outside the task group
                failure = exc
            finally:
                finished.set()
        if failure is not None:
            raise failure
        return answer


@dataclass
class _Claim:
    """One request's hold on a key."""

    records: IdempotencyRecords
    ledger: Ledger
    key_id: str
    key: str
    claim_id: str

    async def renew_until(self, finished: anyio.Event) -> None:
        while True:
            with anyio.move_on_after(self.records.lease_seconds / 4):
                await finished.wait()
            if finished.is_set():
                return
            try:
                await run_in_threadpool(self.records.renew, self.ledger, self.key_id,
                                        self.key, self.claim_id)
            except Exception:
                log.exception("could not renew the claim on an Idempotency-Key")

    async def keep(self, answer: Answer, text: str) -> None:
        try:
            await run_in_threadpool(self.records.finish, self.ledger, self.key_id, self.key,
                                    self.claim_id, answer.status, answer.content_type, text)
        except Exception:
            # The command ran; its answer still goes out. The claim lapses with its lease.
            log.exception("could not store the answer of an Idempotency-Key")

    async def let_go(self) -> None:
        try:
            await run_in_threadpool(self.records.release, self.ledger, self.key_id,
                                    self.key, self.claim_id)
        except Exception:
            log.exception("could not release the claim on an Idempotency-Key")

    async def prune(self) -> None:
        try:
            await run_in_threadpool(self.records.prune, self.ledger)
        except Exception:
            log.exception("could not prune expired Idempotency-Key answers")


def _held_answer(held: records.Held) -> Response:
    if not held.same_request:
        return problem(422, "idempotency_key_reused",
                       f"this {HEADER} was used with another request")
    if held.state == records.IN_FLIGHT or held.status is None:
        return problem(409, "idempotency_key_in_use",
                       f"a request with this {HEADER} is still running; retry later")
    return Response(content=held.body or "", status_code=held.status,
                    media_type=held.content_type, headers={REPLAYED: "true"})


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def install(app: FastAPI, cluster: Cluster) -> IdempotencyRecords:
    kept = IdempotencyRecords(cluster, ttl=timedelta(hours=cluster.settings.idempotency_ttl_hours))
    app.add_middleware(IdempotencyMiddleware, records=kept, handlers=app.exception_handlers)
    return kept

"""The request pipeline before any route: who is calling is settled from the headers
alone, and a body is refused for its size before it is read, for its media type, and
for JSON a lenient parser would accept (duplicate keys, NaN, bytes that are not UTF-8).

The size checks call the ASGI app directly with a `receive` that counts what it hands
out, so they assert on what the service read, not on how long it took.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from aggregates.usage import MAX_BATCH
from service.api.auth import BOOTSTRAP_ADMIN_ID, PrincipalDep
from service.api.request_body import DEFAULT_LIMIT, USAGE_BATCH_LIMIT
from tests.api.conftest import ADMIN, Portal, partner_portal
from tests.api.helpers import assert_problem, log_position

CHUNK = 64 * 1024
SIXTY_TWO_MB = 62 * 1024 * 1024


@pytest.fixture
def portal(request: pytest.FixtureRequest, shared_client: TestClient,
           module_database_url: str, tmp_path: Path) -> Iterator[Portal]:
    """Each test a partner of its own on one service per backend; a test that moves or
    reads the clock, or changes the app, is marked for a service of its own."""
    yield from partner_portal(request, shared_client, module_database_url, tmp_path)


@dataclass
class Sent:
    """What an ASGI call answered, and how much of the body the service pulled."""

    status: int = 0
    body: bytes = b""
    bytes_read: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def _call(portal: Portal, path: str, *, total: int, headers: dict[str, str],
          declare_length: bool) -> Sent:
    """POSTs a body of `total` bytes of JSON whitespace, streamed in 64 KiB chunks."""
    sent = Sent()
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if declare_length:
        raw.append((b"content-length", str(total).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"host", b"test"), *raw],
             "client": ("127.0.0.1", 40000), "server": ("test", 80), "state": {}}

    async def receive() -> dict[str, Any]:
        if sent.bytes_read >= total:
            await anyio.sleep_forever()  # the body is spent: a real server waits
        chunk = b" " * min(CHUNK, total - sent.bytes_read)
        sent.bytes_read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent.bytes_read < total}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
            sent.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    async def main() -> None:
        with anyio.fail_after(60):
            await portal.client.app(scope, receive, send)

    anyio.run(main)
    return sent


def _is_problem(sent: Sent, status: int, code: str) -> None:
    assert sent.status == status, sent.body
    assert sent.headers["content-type"].startswith("application/problem+json")
    assert sent.json()["code"] == code


def test_a_62_mb_body_with_its_length_declared_is_refused_unread(portal: Portal) -> None:
    headers = {**portal.as_("admin"), "Content-Type": "application/json"}
    position = log_position(portal.client)

    sent = _call(portal, portal.url("/lines"), total=SIXTY_TWO_MB, headers=headers,
                 declare_length=True)

    _is_problem(sent, 413, "payload_too_large")
    assert sent.json()["limit"] == DEFAULT_LIMIT
    assert sent.bytes_read == 0
    assert log_position(portal.client) == position


def test_a_62_mb_chunked_body_is_refused_once_it_passes_the_limit(portal: Portal) -> None:
    headers = {**portal.as_("admin"), "Content-Type": "application/json"}

    sent = _call(portal, portal.url("/lines"), total=SIXTY_TWO_MB, headers=headers,
                 declare_length=False)

    _is_problem(sent, 413, "payload_too_large")
    assert DEFAULT_LIMIT < sent.bytes_read <= DEFAULT_LIMIT + CHUNK


def test_an_unauthenticated_62_mb_body_gets_its_401_unread(portal: Portal) -> None:
    revoked = portal.client.post(portal.url("/api-keys"), headers=portal.as_("admin"),
                                 json={"role": "billing", "name": "soon gone"}).json()
    portal.client.delete(portal.url(f"/api-keys/{revoked['id']}"), headers=portal.as_("admin"))
    callers = {"missing": {}, "unknown": {"Authorization": "Bearer pl_nope_nope"},
               "revoked": {"Authorization": f"Bearer {revoked['token']}"}}

    for declared in (True, False):
        for name, headers in callers.items():
            sent = _call(portal, portal.url("/lines"), total=SIXTY_TWO_MB,
                         headers={**headers, "Content-Type": "application/json"},
                         declare_length=declared)

            _is_problem(sent, 401, "unauthorized")
            assert sent.bytes_read == 0, (name, declared)


def test_a_usage_batch_may_be_larger_than_other_bodies(portal: Portal) -> None:
    between = DEFAULT_LIMIT + CHUNK
    headers = {**portal.as_("admin"), "Content-Type": "application/json"}

    lines = _call(portal, portal.url("/lines"), total=between, headers=headers,
                  declare_length=True)
    usage = _call(portal, portal.url("/usage"), total=between, headers=headers,
                  declare_length=True)
    too_big = _call(portal, portal.url("/usage"), total=USAGE_BATCH_LIMIT + 1,
                    headers=headers, declare_length=True)

    _is_problem(lines, 413, "payload_too_large")
    _is_problem(usage, 422, "validation_error")  # read whole: whitespace is not JSON
    assert usage.bytes_read == between
    _is_problem(too_big, 413, "payload_too_large")
    assert too_big.bytes_read == 0


def test_the_largest_usage_batch_fits_its_limit() -> None:
    row = {"line_id": "x" * 64, "hour": "2026-01-03T10:00:00Z",
           "messages_sent": 10**12, "messages_received": 10**12,
           "new_conversations": 10**12, "responded_conversations": 10**12,
           "volume_limit_hits": 10**12}
    batch = json.dumps({"rows": [row] * MAX_BATCH}, indent=2).encode()

    assert len(batch) <= USAGE_BATCH_LIMIT


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml", "application/json; charset=latin-1", "application/jsonx", None,
])
def test_a_body_in_another_media_type_or_none_is_refused(portal: Portal,
                                                        content_type: str | None) -> None:
    position = log_position(portal.client)
    typed = {"Content-Type": content_type} if content_type else {}

    response = portal.client.post(portal.url("/lines"), headers={**portal.as_("admin"), **typed},
                                  content=b'{"phone_number": "+14155550123"}')

    assert_problem(response, 415, "unsupported_media_type")
    assert log_position(portal.client) == position


def test_json_media_types_are_read(portal: Portal) -> None:
    answers = [portal.client.post(portal.url("/sub-accounts"),
                                  headers={**portal.as_("admin"), **extra},
                                  content=json.dumps({"name": f"Team {n}"}).encode())
               for n, extra in enumerate([{"Content-Type": "application/json"},
                                          {"Content-Type": "application/json; charset=UTF-8"},
                                          {"Content-Type": "application/merge-patch+json"}])]

    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]


@pytest.mark.parametrize(("body", "named"), [
    (b'{"phone_number": "+14155550123", "phone_number": "+14155550124"}', "phone_number"),
    (b'{"name": "x", "pricing": {"structure": "standard", "structure": "tiered"}}',
     "structure"),
    (b'{"rows": [{"a": 1}, {"line_id": "l", "line_id": "m"}]}', "line_id"),
])
def test_a_key_given_twice_is_refused_and_named(portal: Portal, body: bytes,
                                               named: str) -> None:
    position = log_position(portal.client)

    response = portal.client.post(portal.url("/lines"), content=body,
                                  headers={**portal.as_("admin"),
                                           "Content-Type": "application/json"})

    assert_problem(response, 422, "validation_error")
    assert f'"{named}"' in response.json()["detail"]
    assert log_position(portal.client) == position


@pytest.mark.parametrize("body", [
    b'{"phone_number": "+1415555\xff0123"}',  # not UTF-8
    b'\xef\xbb\xbf{"phone_number": "+14155550123"}',  # a byte-order mark
    b'{"phone_number": NaN}',
    b'{"phone_number": Infinity}',
    b'{"phone_number": "+14155550123"',
    b"phone_number=+14155550123",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"n": ' + b"9" * 5000 + b"}",
])
def test_a_body_that_is_not_strict_json_is_refused(portal: Portal, body: bytes) -> None:
    position = log_position(portal.client)

    response = portal.client.post(portal.url("/lines"), content=body,
                                  headers={**portal.as_("admin"),
                                           "Content-Type": "application/json"})

    assert_problem(response, 422, "validation_error")
    assert log_position(portal.client) == position


def test_routes_outside_the_api_need_no_token(portal: Portal) -> None:
    assert portal.client.get("/healthz").status_code == 200
    assert portal.client.get("/openapi.json").status_code == 200
    assert_problem(portal.client.get("/v1/no-such-route"), 401, "unauthorized")


@pytest.mark.own_service
def test_a_request_is_authenticated_once(portal: Portal, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    cluster = portal.client.app.state.cluster
    original = cluster.authenticate
    calls: list[str] = []

    def counted(token: str, **kwargs: Any) -> Any:
        calls.append(token)
        return original(token, **kwargs)

    monkeypatch.setattr(cluster, "authenticate", counted)

    read = portal.get("/lines")
    command = portal.post("/sub-accounts", json={"name": "Once"})

    assert (read.status_code, command.status_code) == (200, 201)
    assert len(calls) == 2


@pytest.mark.own_service
def test_a_route_outside_the_api_that_needs_a_caller_authenticates_it(portal: Portal) -> None:
    app = portal.client.app

    @app.get("/extra/whoami")
    def whoami(who: PrincipalDep) -> dict[str, str]:
        return {"key_id": who.key_id}

    anonymous = portal.client.get("/extra/whoami")
    known = portal.client.get("/extra/whoami", headers=ADMIN)

    assert_problem(anonymous, 401, "unauthorized")
    assert known.json() == {"key_id": BOOTSTRAP_ADMIN_ID}

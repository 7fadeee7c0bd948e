"""The partition gate without a database: a partition's requests take at most half of
the worker threads, the rest wait on the event loop, and all of those waiting get 503
`partition_unavailable` as soon as its breaker opens, while another partition's requests
go straight through."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
from starlette.types import Message, Receive, Scope, Send

from service.api.partition_gate import PartitionGateMiddleware
from service.runtime.partition_health import PartitionGuard
from service.runtime.partitions import partition_of

PARTITIONS = 2


@dataclass
class StubCluster:
    guards: list[PartitionGuard]
    ledgers: list[object] = field(default_factory=lambda: [object()] * PARTITIONS)


def _partner_in(index: int) -> str:
    while partition_of(candidate := uuid.uuid4(), PARTITIONS) != index:
        pass
    return str(candidate)


def _scope(pid: str) -> Scope:
    return {"type": "http", "method": "GET", "path": f"/v1/partners/{pid}/lines",
            "headers": [], "query_string": b""}


def test_a_partition_holds_at_most_half_the_threads_and_its_waiters_fail_fast() -> None:
    guards = [PartitionGuard(i, lambda: None) for i in range(PARTITIONS)]
    inside: dict[int, int] = {0: 0, 1: 0}
    answers: list[tuple[int, int]] = []

    async def main() -> None:
        release = anyio.Event()
        limiter = anyio.to_thread.current_default_thread_limiter()
        limit = int(limiter.total_tokens) // 2

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            index = partition_of(uuid.UUID(scope["path"].split("/")[3]), PARTITIONS)
            inside[index] += 1
            if index == 1:
                await release.wait()  # a partition whose server hangs
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        gate = PartitionGateMiddleware(app, cluster=StubCluster(guards))

        async def call(pid: str) -> None:
            status: list[int] = []

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])
                elif message.get("body") and status[0] == 503:
                    assert json.loads(message["body"])["code"] == "partition_unavailable"

            async def receive() -> Message:
                return {"type": "http.request", "body": b"", "more_body": False}

            await gate(_scope(pid), receive, send)
            answers.append((partition_of(uuid.UUID(pid), PARTITIONS), status[0]))

        sick, well = _partner_in(1), _partner_in(0)
        async with anyio.create_task_group() as group:
            for _ in range(limit + 5):
                group.start_soon(call, sick)
            await anyio.sleep(0.2)
            assert inside[1] == limit  # the others wait on the event loop
            assert guards[1].in_flight == limit
            for _ in range(3):
                await call(well)  # another partition is not held up
            assert answers.count((0, 200)) == 3
            guards[1].breaker.failed("refused")
            await anyio.sleep(0.2)
            assert answers.count((1, 503)) == 5  # the waiters failed at once
            release.set()
        assert answers.count((1, 200)) == limit
        assert guards[1].in_flight == 0

    # A loop of its own in a thread of its own: an earlier test of the same session may leave
    # this thread marked as running one (anyio then refuses to start another).
    with ThreadPoolExecutor(1) as thread:
        thread.submit(anyio.run, main).result()
    assert inside[0] == 3

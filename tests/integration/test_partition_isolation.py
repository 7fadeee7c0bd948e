"""One partition down is not all down, on both backends (a partition on a server of its
own stopped under load: tests/integration/test_partition_second_server.py, which uses
`outage_under_load` from here): its partners get 503
`partition_unavailable` at once, the others are served (commands with an
Idempotency-Key too), /healthz says `degraded`, and the partition is taken up again when
its database returns, with nothing acknowledged lost.

A PostgreSQL partition is taken down by refusing connections to its database (and ending
its sessions); a SQLite partition by a directory standing where its file was (the file
cannot be opened). Durations are part of the behaviour here: a 503 within a second.
"""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aggregates.api_key import token_partition
from service.api.app import create_app
from service.commands.application import LedgerApplication
from service.runtime.partitions import Cluster, build_cluster, partition_of
from service.runtime.settings import Settings, partition_url
from tests.api.conftest import ADMIN, bearer, create_partner
from tests.conftest import empty_postgres, make_settings

PARTITIONS = 3
DOWN = 1  # the partition taken down


def _server(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def _empty_siblings(url: str) -> None:
    with psycopg.connect(_server(url), autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    for index in range(1, PARTITIONS):
        sibling = partition_url(url, index)
        if sibling.rsplit("/", 1)[1] in existing:
            empty_postgres(sibling)


class Outage:
    """Takes one partition's database away and brings it back, per backend."""

    def __init__(self, settings: Settings, index: int) -> None:
        self.url = settings.partition(index).database_url
        self.down = False

    def __enter__(self) -> Outage:
        return self

    def take_down(self) -> None:
        self.down = True
        if self.url.startswith("sqlite:"):
            path = Path(self.url.removeprefix("sqlite:///"))
            path.rename(path.with_name(path.name + ".away"))
            path.mkdir()  # stands where the file was: it cannot be opened
            return
        name = self.url.rsplit("/", 1)[1]
        with psycopg.connect(_server(self.url), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))

    def bring_back(self) -> None:
        if not self.down:
            return
        self.down = False
        if self.url.startswith("sqlite:"):
            path = Path(self.url.removeprefix("sqlite:///"))
            path.rmdir()
            path.with_name(path.name + ".away").rename(path)
            return
        name = self.url.rsplit("/", 1)[1]
        with psycopg.connect(_server(self.url), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    def __exit__(self, *_: object) -> None:
        self.bring_back()  # even when the test failed


@pytest.fixture
def settings(database_url: str) -> Settings:
    if database_url.startswith("postgresql"):
        _empty_siblings(database_url)
    return make_settings(database_url, partitions=PARTITIONS, clock="system")


def _client(cluster: Cluster) -> TestClient:
    return TestClient(create_app(cluster, run_scheduler=False), raise_server_exceptions=False)


def _partners(client: TestClient) -> dict[int, tuple[str, dict[str, str]]]:
    """A partner and its admin key in every partition."""
    found: dict[int, tuple[str, dict[str, str]]] = {}
    for n in range(200):
        pid = create_partner(client, f"Reseller {n}")
        index = partition_of(uuid.UUID(pid), PARTITIONS)
        if index in found:
            continue
        key = client.post(f"/v1/partners/{pid}/api-keys", headers=ADMIN,
                          json={"role": "admin", "name": "admin"})
        assert key.status_code == 201, key.text
        assert token_partition(key.json()["token"]) == index
        found[index] = (pid, bearer(key.json()["token"]))
        if len(found) == PARTITIONS:
            return found
    raise AssertionError(f"200 partners reached only partitions {sorted(found)}")


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def _until(check: Callable[[], bool], *, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the partition was not taken up again"
        time.sleep(0.1)


def _line(client: TestClient, pid: str, key: dict[str, str], number: str,
          idempotency_key: str | None = None) -> Any:
    headers = {**key, **({"Idempotency-Key": idempotency_key} if idempotency_key else {})}
    return client.post(f"/v1/partners/{pid}/lines", headers=headers,
                       json={"phone_number": number})


def _assert_served_but_down(client: TestClient,
                            partners: dict[int, tuple[str, dict[str, str]]]) -> None:
    pid, key = partners[DOWN]
    for _ in range(3):
        answer, took = _timed(lambda: client.get(f"/v1/partners/{pid}/lines", headers=key))
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "partition_unavailable"
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert took < 1.0, f"the 503 took {took:.2f} s"
    refused = _line(client, pid, key, "+14155550199", idempotency_key="down-1")
    assert refused.status_code == 503
    for index, (other, other_key) in partners.items():
        if index == DOWN:
            continue
        assert client.get(f"/v1/partners/{other}/lines", headers=other_key).status_code == 200
        created = _line(client, other, other_key, f"+1415555{index:04d}",
                        idempotency_key=f"up-{index}")
        assert created.status_code == 201, created.text
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert [p["status"] for p in health.json()["partitions"]] == \
        ["unavailable" if i == DOWN else "ok" for i in range(PARTITIONS)]


def test_a_partition_down_at_start_is_refused_fast_and_taken_up_when_it_returns(
        settings: Settings) -> None:
    cluster = build_cluster(settings)
    with _client(cluster) as client:
        partners = _partners(client)
        pid, key = partners[DOWN]
        kept = _line(client, pid, key, "+14155550100")
        assert kept.status_code == 201
    cluster.close()

    with Outage(settings, DOWN) as outage:
        outage.take_down()
        cluster = build_cluster(settings)  # starts with a partition down
        try:
            with _client(cluster) as client:
                _assert_served_but_down(client, partners)
                outage.bring_back()
                _until(lambda: client.get(f"/v1/partners/{pid}/lines",
                                          headers=key).status_code == 200)
                lines = client.get(f"/v1/partners/{pid}/lines", headers=key).json()["data"]
                assert [line["id"] for line in lines] == [kept.json()["id"]]
                assert _line(client, pid, key, "+14155550101").status_code == 201
                assert client.get("/healthz").json()["status"] == "ok"
        finally:
            cluster.close()


def test_a_token_that_names_its_partition_costs_one_lookup(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = build_cluster(settings)
    try:
        with _client(cluster) as client:
            partners = _partners(client)
            looked: Counter[int] = Counter()
            real = LedgerApplication.authenticate

            def counted(app: LedgerApplication, token: str) -> Any:
                looked[app.partition or 0] += 1
                return real(app, token)

            monkeypatch.setattr(LedgerApplication, "authenticate", counted)
            pid, key = partners[2]
            assert client.get(f"/v1/partners/{pid}/lines", headers=key).status_code == 200
            assert looked == Counter({2: 1})
            looked.clear()
            unknown = f"pl_p2_{uuid.uuid4().hex}_not-a-secret"
            answer = client.get(f"/v1/partners/{pid}/lines", headers=bearer(unknown))
            assert answer.status_code == 401
            assert looked == Counter({2: 1})
            looked.clear()
            older = f"pl_{uuid.uuid4().hex}_not-a-secret"  # the form without a partition
            assert client.get(f"/v1/partners/{pid}/lines",
                              headers=bearer(older)).status_code == 401
            assert looked == Counter({0: 1, 1: 1, 2: 1})
    finally:
        cluster.close()


def test_with_the_home_partition_down_other_partners_still_use_idempotency_keys(
        settings: Settings) -> None:
    if not settings.is_postgres:
        pytest.skip("a SQLite file already open stays readable: the start-up case covers it")
    cluster = build_cluster(settings)
    try:
        with _client(cluster) as client, Outage(settings, 0) as outage:
            partners = _partners(client)
            outage.take_down()
            for index in (1, 2):
                pid, key = partners[index]
                first = _line(client, pid, key, f"+1415557{index:04d}", idempotency_key="k")
                assert first.status_code == 201, first.text
                again = _line(client, pid, key, f"+1415557{index:04d}", idempotency_key="k")
                assert again.status_code == 201
                assert again.headers.get("Idempotent-Replayed") == "true"
                assert again.json()["id"] == first.json()["id"]
            home, home_key = partners[0]
            assert client.get(f"/v1/partners/{home}/lines",
                              headers=home_key).status_code == 503
            platform = client.get("/v1/api-keys", headers=ADMIN)
            assert platform.status_code == 503
            assert platform.json()["code"] == "partition_unavailable"
    finally:
        cluster.close()


def outage_under_load(client: TestClient, partners: dict[int, tuple[str, dict[str, str]]], *,
                      take_down: Callable[[], None], bring_back: Callable[[], None]) -> None:
    """Partition DOWN goes away while every partition is under load, and comes back: the
    others' answers are all 2xx (counted), the partition's all 503 within a second once
    its breaker opened, and after it returns no request fails and nothing is lost."""
    stop = threading.Event()
    others: Counter[int] = Counter()
    down: list[tuple[int, float, float]] = []  # status, start, duration
    pid, key = partners[DOWN]
    kept = [_line(client, pid, key, "+14155550110").json()["id"]]

    def healthy(index: int) -> None:
        other, other_key = partners[index]
        while not stop.is_set():
            others[client.get(f"/v1/partners/{other}/lines",
                              headers=other_key).status_code] += 1

    def sick() -> None:
        while not stop.is_set():
            started = time.monotonic()
            answer, took = _timed(lambda: client.get(f"/v1/partners/{pid}/lines", headers=key))
            down.append((answer.status_code, started, took))

    workers = [threading.Thread(target=healthy, args=(i,))
               for i in range(PARTITIONS) if i != DOWN for _ in range(2)]
    workers += [threading.Thread(target=sick) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        time.sleep(0.5)
        take_down()
        _until(lambda: sum(1 for status, *_ in down if status == 503) >= 20, within=15)
        _assert_served_but_down(client, partners)
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    assert set(others) == {200}, others
    assert {status for status, *_ in down} <= {200, 503}
    # Requests under way when the server went away wait at most one pool wait and a
    # probe; every one that started once the breaker was open answers at once.
    opened = min(start + took for status, start, took in down if status == 503)
    in_flight = [took for status, start, took in down if start < opened]
    after = [took for status, start, took in down if start >= opened]
    assert all(status == 503 for status, start, _ in down if start >= opened)
    assert max(in_flight) < 3.0, in_flight
    slow = [took for took in after if took >= 1.0]
    assert slow == [], f"{len(slow)} of {len(after)} answers of 503 took 1 s or more"

    bring_back()
    _until(lambda: client.get(f"/v1/partners/{pid}/lines", headers=key).status_code == 200,
           within=30)
    # No stale pooled connection costs a failure once the partition is back.
    answers = Counter(client.get(f"/v1/partners/{pid}/lines", headers=key).status_code
                      for _ in range(20))
    assert answers == Counter({200: 20})
    kept.append(_line(client, pid, key, "+14155550111").json()["id"])
    lines = client.get(f"/v1/partners/{pid}/lines", headers=key).json()["data"]
    assert sorted(line["id"] for line in lines) == sorted(kept)


def test_the_home_partition_down_at_start_stops_only_the_platform_and_its_partners(
        settings: Settings) -> None:
    cluster = build_cluster(settings)
    with _client(cluster) as client:
        partners = _partners(client)
    cluster.close()

    with Outage(settings, 0) as outage:
        outage.take_down()
        cluster = build_cluster(settings)  # the system clock needs no database
        try:
            with _client(cluster) as client:
                pid, key = partners[1]
                created = _line(client, pid, key, "+14155550130", idempotency_key="home-down")
                assert created.status_code == 201, created.text
                home, home_key = partners[0]
                assert client.get(f"/v1/partners/{home}/lines",
                                  headers=home_key).status_code == 503
                refused = client.get("/v1/api-keys", headers=ADMIN)
                assert refused.status_code == 503
                assert refused.json()["code"] == "partition_unavailable"
                health = client.get("/healthz")
                assert health.status_code == 200
                assert health.json()["partitions"][0]["status"] == "unavailable"
                outage.bring_back()
                _until(lambda: client.get("/v1/api-keys", headers=ADMIN).status_code == 200)
                assert client.get(f"/v1/partners/{home}/lines",
                                  headers=home_key).status_code == 200
        finally:
            cluster.close()

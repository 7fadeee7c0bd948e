"""The crash window: a partition's database fails while its partners' requests run, through
pgBouncer in transaction mode (which keeps the client's connection and reports the failure
later, as `server conn crashed?`, `server login has been failing` or an AdminShutdown) and
directly. Whatever the path (authentication, the idempotency claim, a command before its
commit, a live read, an as-of read), the answer is never a 500: 503
`partition_unavailable` before a commit, the committed result (or 202) after one.

Two failures, each under load from every partition: the server's backends killed again
and again (`pg_terminate_backend`: the server itself still answers, so the breaker's probe
answers and the failure is one request's), and the server stopped as a crash would stop it
(`pg_ctlcluster stop -m immediate`: the probe fails and the breaker opens). PostgreSQL by
nature."""

from __future__ import annotations

import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from httpx import Response

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.ops.pg_clusters import PgCluster
from service.runtime.partition_health import ping
from service.runtime.partitions import Cluster, build_cluster
from tests.conftest import empty_postgres, make_settings
from tests.integration.conftest import Bounced
from tests.integration.test_partition_isolation import PARTITIONS, _partners

NAMES = ("pgb_p0", "pgb_p1", "pgb_p2")
DOWN = 1  # on the second server, with partition 2: both meet every failure below
COMMITTED = {200, 201, 202}


@dataclass
class Answers:
    """Every answer the load received, by partition; the 5xx bodies kept to show."""

    statuses: dict[int, Counter[int]] = field(
        default_factory=lambda: {index: Counter() for index in range(PARTITIONS)})
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, index: int, what: str, answer: Response) -> None:
        status = answer.status_code
        unavailable = status == 503 and answer.json().get("code") == "partition_unavailable"
        with self.lock:
            self.statuses[index][status] += 1
            if status >= 500 and not unavailable:
                self.failures.append(f"{what}: {status} {answer.text[:300]}")


def _requests(client: TestClient, pid: str, key: dict[str, str],
              n: int) -> list[tuple[str, Callable[[], Response]]]:
    """One round of what a partner's client does: each step reads or writes its partition
    on another path (a token lookup, a claim, a command, a live and an as-of read)."""
    base = f"/v1/partners/{pid}"
    return [
        ("command", lambda: client.post(f"{base}/lines", headers=key, json={})),
        ("command with Idempotency-Key", lambda: client.post(
            f"{base}/lines", headers={**key, "Idempotency-Key": f"{pid}-{n}"}, json={})),
        ("live read", lambda: client.get(f"{base}/lines", headers=key)),
        ("as-of read", lambda: client.get(f"{base}/lines/overview", headers=key,
                                          params={"as_of": "position:999999999"})),
        ("partner read", lambda: client.get(base, headers=key)),
    ]


def _load(client: TestClient, partners: dict[int, tuple[str, dict[str, str]]],
          answers: Answers, stop: threading.Event) -> list[threading.Thread]:
    def run(index: int, worker: int) -> None:
        pid, key = partners[index]
        n = 0
        while not stop.is_set():
            n += 1
            for what, call in _requests(client, pid, key, worker * 100_000 + n):
                answers.note(index, what, call())

    threads = [threading.Thread(target=run, args=(index, worker))
               for index in range(PARTITIONS) for worker in range(2 if index == DOWN else 1)]
    for thread in threads:
        thread.start()
    return threads


def _terminate_backends(server_url: str, database: str, until: float) -> int:
    """Kills every session of `database` again and again until `until`; how many."""
    killed = 0
    with psycopg.connect(server_url, autocommit=True) as conn:
        while time.monotonic() < until:
            row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()",
                               (database,)).fetchone()
            killed += int(row[0]) if row else 0
            time.sleep(0.03)
    return killed


@pytest.fixture(params=["pgbouncer", "direct"])
def crash_cluster(request: pytest.FixtureRequest, bounced: Bounced) -> Iterator[Cluster]:
    for name in NAMES:
        empty_postgres(bounced.direct[name])
    bouncer = request.param == "pgbouncer"
    urls = [bounced.url(name) if bouncer else bounced.direct[name] for name in NAMES]
    settings = make_settings(urls[0], partition_urls=urls, prepared_statements=not bouncer,
                             clock="system", connect_timeout_seconds=2)
    cluster = build_cluster(settings)
    try:
        yield cluster
    finally:
        cluster.close()


def _under_load(cluster: Cluster, failure: Callable[[], None]) -> Answers:
    answers = Answers()
    with TestClient(create_app(cluster, run_scheduler=False),
                    raise_server_exceptions=False) as client:
        partners = _partners(client)
        stop = threading.Event()
        threads = _load(client, partners, answers, stop)
        try:
            time.sleep(0.3)
            failure()
        finally:
            stop.set()
            for thread in threads:
                thread.join(120)
        # Served again once the failure is over: the breakers closed, no stale connection.
        deadline = time.monotonic() + 30
        for pid, key in partners.values():
            while client.get(f"/v1/partners/{pid}/lines", headers=key).status_code != 200:
                assert time.monotonic() < deadline, "a partition was not served again"
                time.sleep(0.1)
        for pid, key in partners.values():
            assert client.post(f"/v1/partners/{pid}/lines", headers=key,
                               json={}).status_code == 201
    return answers


def _assert_no_server_error(answers: Answers) -> None:
    assert answers.failures == [], "\n".join(answers.failures[:10])
    for index, statuses in answers.statuses.items():
        assert set(statuses) <= COMMITTED | {404, 503}, (index, statuses)
    home = answers.statuses[0]  # on the suite's server, which nothing failed
    assert set(home) <= COMMITTED and home[200] and home[201], home


def test_backends_killed_under_load_never_answer_500(crash_cluster: Cluster,
                                                    bounced: Bounced) -> None:
    server_url, database = bounced.direct["pgb_p1"].rsplit("/", 1)
    killed: list[int] = []

    def kill() -> None:
        killed.append(_terminate_backends(f"{server_url}/postgres", database,
                                          time.monotonic() + 2.0))

    answers = _under_load(crash_cluster, kill)
    assert killed[0] > 0  # the load's sessions were killed under it
    _assert_no_server_error(answers)


def test_a_server_crash_under_load_never_answers_500(crash_cluster: Cluster,
                                                     second_server: PgCluster) -> None:
    def crash() -> None:
        second_server.stop("immediate")
        try:
            time.sleep(1.5)
        finally:
            second_server.start()

    answers = _under_load(crash_cluster, crash)
    _assert_no_server_error(answers)
    assert answers.statuses[DOWN][503]  # the crash was met, and answered 503


def test_the_probe_and_the_pre_ping_wait_for_their_answer_a_bounded_time(
        postgres_url: str) -> None:
    # A query whose answer does not come in time (as one queued in pgBouncer while its
    # server is down) fails after the bound instead of holding the thread.
    conn = psycopg.connect(postgres_url, autocommit=True)
    try:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError, match=r"no answer within 0\.2 s"):
            ping(conn, timeout=0.2, query=b"SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2.0
    finally:
        conn.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        ping(conn)  # answered: returns
        ping(conn, query=b"")  # the pre-ping's empty query
        with pytest.raises(psycopg.OperationalError, match="division by zero"):
            ping(conn, query=b"SELECT 1/0")

"""One partition on a PostgreSQL server of its own (a second local cluster, created by
the test on a free port and dropped afterwards, even on failure), stopped under load:
the other partners keep answering 2xx, the stopped partition's partners get 503
`partition_unavailable` within a second, /healthz says `degraded`, and once the server
is started again the partition is served with no failed request and nothing lost.

The partition's URL is set by this test's own fixture (the settings' `partition`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.runtime.partitions import build_cluster, partition_of
from service.runtime.settings import Settings
from tests.api.conftest import ADMIN
from tests.conftest import make_settings
from tests.integration.processes import free_port
from tests.integration.test_partition_isolation import (
    DOWN,
    PARTITIONS,
    _client,
    _empty_siblings,
    _partners,
    outage_under_load,
)


class SecondServer:
    """A PostgreSQL cluster of its own, on another port (Debian's pg_createcluster)."""

    def __init__(self) -> None:
        self.version = sorted(os.listdir("/usr/lib/postgresql"), key=float)[-1]
        self.name = f"iso{os.getpid()}{uuid.uuid4().hex[:4]}"
        self.port = free_port()

    def _ctl(self, action: str, *options: str, check: bool = True) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name,
                        action, *options], check=check, capture_output=True, timeout=60)

    def create(self) -> None:
        # A throwaway cluster: no fsync (initdb's and the server's), so it costs seconds.
        subprocess.run(["pg_createcluster", self.version, self.name, "--port", str(self.port),
                        "-o", "fsync=off", "-o", "synchronous_commit=off",
                        "--", "--auth-host=trust", "--auth-local=trust", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")  # ends its sessions, as a crash or a failover would

    def start(self) -> None:
        self._ctl("start")

    def drop(self) -> None:
        self._ctl("stop", "-m", "immediate", check=False)
        subprocess.run(["pg_dropcluster", "--stop", self.version, self.name],
                       capture_output=True, timeout=60)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def second_server() -> Iterator[SecondServer]:
    missing = [tool for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster")
               if shutil.which(tool) is None]
    if missing or os.geteuid() != 0 or not Path("/usr/lib/postgresql").is_dir():
        reason = f"needs root and Debian's PostgreSQL cluster tools ({', '.join(missing)})"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    server = SecondServer()
    try:
        server.create()
        yield server
    finally:
        server.drop()


def test_a_partition_on_its_own_server_stopped_under_load_stops_no_one_else(
        postgres_url: str, second_server: SecondServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _empty_siblings(postgres_url)
    elsewhere = second_server.url("ledger_partition")
    same_server = Settings.partition

    def placed(self: Settings, index: int) -> Settings:
        if index == DOWN:
            return self.model_copy(update={"database_url": elsewhere})
        return same_server(self, index)

    monkeypatch.setattr(Settings, "partition", placed)
    settings = make_settings(postgres_url, partitions=PARTITIONS, clock="system")
    cluster = build_cluster(settings)
    try:
        with _client(cluster) as client:
            outage_under_load(client, _partners(client), take_down=second_server.stop,
                              bring_back=second_server.start)
    finally:
        cluster.close()


def test_a_partition_whose_server_never_answers_costs_its_partners_no_wait(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A port that accepts connections and never says a word: the connect-timeout path.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)
    _empty_siblings(postgres_url)
    silent = f"postgresql://postgres@127.0.0.1:{black_hole.getsockname()[1]}/ledger"
    same_server = Settings.partition

    def placed(self: Settings, index: int) -> Settings:
        if index == DOWN:
            return self.model_copy(update={"database_url": silent})
        return same_server(self, index)

    monkeypatch.setattr(Settings, "partition", placed)
    settings = make_settings(postgres_url, partitions=PARTITIONS, clock="system")
    cluster = build_cluster(settings)  # waits one connect timeout for the silent server
    try:
        with _client(cluster) as client:
            served: dict[int, str] = {}
            for _ in range(40):
                pid = str(uuid.uuid4())
                index = partition_of(uuid.UUID(pid), PARTITIONS)
                started = time.monotonic()
                answer = client.get(f"/v1/partners/{pid}/lines", headers=ADMIN)
                took = time.monotonic() - started
                if index == DOWN:
                    assert answer.status_code == 503 and took < 1.0, (answer.text, took)
                    assert answer.json()["code"] == "partition_unavailable"
                else:
                    assert answer.status_code == 404  # served: no such partner there
                served.setdefault(index, pid)
            assert set(served) == set(range(PARTITIONS))
            health = client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "degraded"
    finally:
        cluster.close()
        black_hole.close()

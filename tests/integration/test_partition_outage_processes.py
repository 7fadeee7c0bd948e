"""`ledger serve` and `ledger project` as real processes, with a partition's database (on
a server of its own, placed as an operator places it: `PORTAL_PARTITION_URLS` in their
environment) refusing connections from before they start (PostgreSQL): both start, the API serves
every other partner (commands with an Idempotency-Key too) and answers the partition's
partners 503 within a second, /healthz says `degraded`, the projectors live through it
(`ledger project --partition i` of the down partition waits for it), and once the
database returns everything is taken up, nothing acknowledged is lost and `ledger verify`
passes."""

from __future__ import annotations

import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import httpx

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.partitions import build_cluster
from tests.conftest import empty_postgres, make_settings
from tests.integration.processes import LEDGER, free_port, service_env, start, stop, wait_healthy
from tests.integration.test_partition_isolation import (
    DOWN,
    PARTITIONS,
    Outage,
    _empty_siblings,
    _partners,
)
from tests.integration.test_partition_second_server import _placed
from tests.integration.test_partition_second_server import elsewhere as elsewhere  # fixture


def _until(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_serve_and_project_run_with_a_partition_down_and_take_it_up_when_it_returns(
        postgres_url: str, elsewhere: str, tmp_path: Path) -> None:
    empty_postgres(postgres_url)  # whatever layout a test before left
    _empty_siblings(postgres_url)
    urls = _placed(postgres_url, elsewhere)
    settings = make_settings(postgres_url, partition_urls=urls, clock="system")
    assert settings.partitions == PARTITIONS
    cluster = build_cluster(settings)
    with TestClient(create_app(cluster, run_scheduler=False)) as client:
        partners = _partners(client)
        pid, key = partners[DOWN]
        before = client.post(f"/v1/partners/{pid}/lines", headers=key,
                             json={"phone_number": "+14155550120"})
        assert before.status_code == 201
    cluster.close()

    env = service_env(urls[0], PORTAL_PARTITION_URLS="\n".join(urls), PORTAL_SCHEDULER="false")
    port = free_port()
    running: list[subprocess.Popen[bytes]] = []
    with Outage(settings, DOWN) as outage:
        outage.take_down()
        try:
            running.append(start(["serve", "--port", str(port)], env, tmp_path / "serve.log"))
            running.append(start(["project", "--poll", "0.1"], env, tmp_path / "project.log"))
            running.append(start(["project", "--partition", str(DOWN), "--poll", "0.1"], env,
                                 tmp_path / "project-down.log"))
            wait_healthy(port, running[0])
            acknowledged: dict[int, list[str]] = {}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                health = http.get("/healthz")
                assert health.json()["status"] == "degraded"
                assert health.json()["partitions"][DOWN]["status"] == "unavailable"
                for n in range(3):
                    started = time.monotonic()
                    refused = http.get(f"/v1/partners/{pid}/lines", headers=key)
                    assert refused.status_code == 503
                    assert refused.json()["code"] == "partition_unavailable"
                    assert time.monotonic() - started < 1.0
                    for index, (other, other_key) in partners.items():
                        if index == DOWN:
                            continue
                        created = http.post(
                            f"/v1/partners/{other}/lines",
                            headers={**other_key, "Idempotency-Key": f"{index}-{n}"},
                            json={"phone_number": f"+1415556{index:02d}{n:02d}"})
                        assert created.status_code == 201, created.text
                        acknowledged.setdefault(index, []).append(created.json()["id"])
                time.sleep(1.0)  # several projector passes meet the partition down
                assert all(process.poll() is None for process in running)

                outage.bring_back()
                _until(lambda: http.get(f"/v1/partners/{pid}/lines",
                                        headers=key).status_code == 200)
                assert http.get("/healthz").json()["status"] == "ok"
                after = http.post(f"/v1/partners/{pid}/lines", headers=key,
                                  json={"phone_number": "+14155550121"})
                assert after.status_code == 201
                acknowledged[DOWN] = [before.json()["id"], after.json()["id"]]
                for index, (partner, partner_key) in partners.items():
                    lines = http.get(f"/v1/partners/{partner}/lines", headers=partner_key)
                    assert sorted(line["id"] for line in lines.json()["data"]) == \
                        sorted(acknowledged[index])
            _until(lambda: "answers again" in (tmp_path / "project.log").read_text())
            assert all(process.poll() is None for process in running)
        finally:
            for process in running:
                stop(process)
    verified = subprocess.run([LEDGER, "verify"], env=env, capture_output=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr


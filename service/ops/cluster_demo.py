"""`make cluster-demo`: one partition's server stops under load, and the others go on.

Builds three local PostgreSQL clusters on spare ports (one per partition), a streaming
standby of the first and pgBouncer in transaction mode in front of all three; runs
`ledger serve` and `ledger project` over the partitions through pgBouncer, and a read-only
`ledger serve` on the standby; sends commands for partners of every partition from
several threads, stops one cluster (`pg_ctlcluster stop -m immediate`, a crash of the
server) under that load, starts it again, and checks:

- the other partitions' partners kept answering 2xx, each within a second;
- the stopped partition's partners were answered within a second once it was found
  down, and none was held while it was being found; no request was answered 500;
- `/healthz` said `degraded` while the cluster was down;
- `ledger project` survived;
- after the cluster returned, every acknowledged command is there, and `ledger verify`
  passes; the standby's read-only process serves a partner's reads.

Then drops everything it made, also on failure. Exit 0 when every check held. Needs root
(pg_createcluster; the servers and pgBouncer run as postgres) and Debian's pgbouncer.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from service.ops.pg_clusters import (
    PgBouncer,
    PgCluster,
    clusters,
    create_standby,
    free_port,
    start_pgbouncer,
    tools_missing,
    wait_replayed,
)
from service.runtime.partitions import partition_of

LEDGER = str(Path(sys.executable).with_name("ledger"))
ADMIN_TOKEN = "cluster-demo-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PARTITIONS = 3
PARTNERS_PER_PARTITION = 2
WITHIN = 1.0  # seconds: how fast every answer must come, even from a stopped partition
# Seconds no request may wait, even one that meets the crash itself: a statement sent as the
# server went down waits in pgBouncer's queue for its query_wait_timeout (5 s here,
# service/ops/pg_clusters.py), then the probe that opens the breaker runs, before its 503.
# Once the partition is found down, every answer comes within WITHIN.
HELD = 10.0


@dataclass
class Stage:
    """Where the demo runs: one server per partition (a server may hold more than one),
    a standby of the first, and the cluster to stop (it must not hold partition 0's)."""

    servers: list[PgCluster]
    standby: PgCluster
    victim: PgCluster


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Answer:
    partition: int
    sent: float
    seconds: float
    status: int  # 0: no answer (a transport error)
    line_id: str | None = None


@dataclass
class Load:
    """Commands from one thread per partner until stopped; every answer noted."""

    base: str
    partners: dict[str, tuple[int, dict[str, str]]]
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for pid, (partition, headers) in self.partners.items():
            thread = threading.Thread(target=self._send, args=(pid, partition, headers))
            thread.start()
            self.threads.append(thread)

    def _send(self, pid: str, partition: int, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as http:
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    response = http.post(f"/v1/partners/{pid}/lines", json={})
                    status = response.status_code
                    line = response.json().get("id") if status == 201 else None
                except (httpx.HTTPError, ValueError):
                    status, line = 0, None
                self.answers.append(Answer(partition, sent, time.monotonic() - sent, status,
                                           line))
                if status != 201:
                    time.sleep(0.05)  # a refused partner retries, a little later

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def _say(text: str) -> None:
    print(f"cluster-demo: {text}", file=sys.stderr, flush=True)


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen([LEDGER, *args], env=env, stdout=handle, stderr=handle,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _health(base: str) -> tuple[int, dict[str, object]]:
    try:
        response = httpx.get(f"{base}/healthz", timeout=5)
        return response.status_code, response.json()
    except (httpx.HTTPError, ValueError):
        return 0, {}


def _wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _health(base)[1].get("status") != "ok":
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {base} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base} did not become healthy")
        time.sleep(0.2)


def _env(urls: list[str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_PARTITION_URLS=" ".join(urls), PORTAL_ADMIN_TOKEN=ADMIN_TOKEN,
               PORTAL_CLOCK="system", PORTAL_TICK_SECONDS="0.5",
               PORTAL_PREPARED_STATEMENTS="false", PORTAL_CONNECT_TIMEOUT_SECONDS="1",
               PORTAL_POOL_SIZE="4", PORTAL_MAX_OVERFLOW="8", **extra)
    return env


def _partners(base: str) -> dict[str, tuple[int, dict[str, str]]]:
    """Partners created over the API until each partition holds enough, with a key each."""
    found: dict[str, tuple[int, dict[str, str]]] = {}
    counts = dict.fromkeys(range(PARTITIONS), 0)
    while min(counts.values()) < PARTNERS_PER_PARTITION:
        made = httpx.post(f"{base}/v1/partners", headers=ADMIN, timeout=30, json={
            "name": f"Demo reseller {len(found)}", "currency": "USD",
            "billing_anchor_day": 1, "pricing": {"structure": "standard", "unit_amount": 100}})
        made.raise_for_status()
        pid = made.json()["id"]
        partition = partition_of(uuid.UUID(pid), PARTITIONS)
        if counts[partition] >= PARTNERS_PER_PARTITION:
            continue
        key = httpx.post(f"{base}/v1/partners/{pid}/api-keys", headers=ADMIN, timeout=30,
                         json={"role": "admin", "name": "demo"})
        key.raise_for_status()
        found[pid] = (partition, {"Authorization": f"Bearer {key.json()['token']}"})
        counts[partition] += 1
    return found


@contextmanager
def _databases(stage: Stage, tag: str) -> Iterator[list[tuple[PgCluster, str]]]:
    made = [(server, f"demo_{tag}_p{index}") for index, server in enumerate(stage.servers)]
    for server, name in made:
        server.create_database(name)
    try:
        yield made
    finally:
        for server, name in made:
            try:
                with psycopg.connect(server.url(), autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as error:
                _say(f"could not drop {name}: {error}")


def run(stage: Stage, folder: Path, *, seconds: float = 4.0) -> list[Check]:
    """The demo on `stage`; answers its checks. Leaves no process or database behind."""
    tag = uuid.uuid4().hex[:6]
    checks: list[Check] = []
    with ExitStack() as stack:
        databases = stack.enter_context(_databases(stage, tag))
        names = [f"demo_p{index}" for index in range(PARTITIONS)]
        bouncer: PgBouncer = start_pgbouncer(
            dict(zip(names, databases, strict=True)), free_port(FIRST_BOUNCER_PORT))
        stack.callback(bouncer.stop)
        urls = [bouncer.url(name) for name in names]
        api = free_port(18500)
        api_base = f"http://127.0.0.1:{api}"
        serve = _start(["serve", "--port", str(api)], _env(urls, PORTAL_SCHEDULER="false"),
                       folder / "serve.log")
        stack.callback(_stop, serve)
        _wait_healthy(api_base, serve)
        project = _start(["project", "--poll", "0.2"], _env(urls), folder / "project.log")
        stack.callback(_stop, project)
        _say(f"serving {PARTITIONS} partitions through pgBouncer on :{bouncer.port}; "
             f"API on :{api}")

        partners = _partners(api_base)
        wait_replayed(stage.servers[0], stage.standby)
        standby_urls = [stage.standby.url(databases[0][1]), *urls[1:]]
        replica_port = free_port(api + 1)
        replica_base = f"http://127.0.0.1:{replica_port}"
        replica = _start(["serve", "--port", str(replica_port)],
                         _env(standby_urls, PORTAL_READ_ONLY="true"), folder / "replica.log")
        stack.callback(_stop, replica)
        _wait_healthy(replica_base, replica)

        victim_partitions = {index for index, server in enumerate(stage.servers)
                             if server is stage.victim}
        load = Load(base=api_base, partners=partners)
        load.start()
        stack.callback(load.finish)
        time.sleep(seconds / 2)
        _say(f"stopping the cluster of partition(s) {sorted(victim_partitions)} under load")
        stopped_at = time.monotonic()
        stage.victim.stop("immediate")
        time.sleep(1.5)
        status, health = _health(api_base)
        checks.append(Check("healthz says degraded while a partition is down",
                            status == 200 and health.get("status") == "degraded",
                            f"{status} {health}"))
        time.sleep(seconds)
        checks.append(Check("the projector survives", project.poll() is None,
                            f"exit code {project.poll()}"))
        restarted_at = time.monotonic()
        stage.victim.start()
        _say("the cluster is back")
        try:
            _wait_healthy(api_base, serve, timeout=60)
            healed = True
        except (TimeoutError, RuntimeError):
            healed = False
        checks.append(Check("healthz is ok again once the cluster is back", healed,
                            str(_health(api_base))))
        time.sleep(seconds / 2)
        load.finish()

        during = [a for a in load.answers if stopped_at <= a.sent < restarted_at]
        others = [a for a in during if a.partition not in victim_partitions]
        down = [a for a in during if a.partition in victim_partitions]
        checks.append(Check(
            "other partitions answer 2xx within a second while one is down",
            bool(others) and all(200 <= a.status < 300 and a.seconds < WITHIN for a in others),
            f"{len(others)} answers, statuses {sorted({a.status for a in others})}, slowest "
            f"{max((a.seconds for a in others), default=0):.2f}s"))
        # The first requests meet the crash itself (a connection dropped mid-command, the
        # probe that finds the server gone); once it is found down, each answer is quick.
        settled = [a for a in down if a.sent >= stopped_at + WITHIN]
        checks.append(Check(
            "the stopped partition's partners are answered within a second once it is "
            "found down, and none is held",
            bool(settled) and all(a.seconds < WITHIN for a in settled)
            and all(a.seconds < HELD for a in down),
            f"{len(down)} answers, statuses {sorted({a.status for a in down})}, slowest "
            f"{max((a.seconds for a in settled), default=0):.2f}s after the first second, "
            f"{max((a.seconds for a in down), default=0):.2f}s in all"))
        failed = Counter(a.status for a in load.answers if a.status >= 500 and a.status != 503)
        checks.append(Check("no request was answered 500 (the crash window answers 503)",
                            not failed, f"statuses of the whole run: "
                            f"{dict(sorted(Counter(a.status for a in load.answers).items()))}"))
        checks.append(Check("the projector survives the cluster's return",
                            project.poll() is None, f"exit code {project.poll()}"))

        acknowledged = [a.line_id for a in load.answers if a.line_id]
        missing = _missing(api_base, partners, acknowledged)
        checks.append(Check("nothing acknowledged is lost", not missing,
                            f"{len(acknowledged)} acknowledged, {len(missing)} missing"))
        verify = subprocess.run([LEDGER, "verify"], env=_env(urls), capture_output=True,
                                text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)
        checks.append(Check("ledger verify passes after the cluster returned",
                            verify.returncode == 0,
                            (verify.stdout.strip() or verify.stderr.strip())[-300:]))
        home = next(pid for pid, (partition, _) in partners.items() if partition == 0)
        wait_replayed(stage.servers[0], stage.standby)
        read = httpx.get(f"{replica_base}/v1/partners/{home}/lines/overview",
                         headers=partners[home][1], timeout=30)
        refused = httpx.post(f"{replica_base}/v1/partners/{home}/lines",
                             headers=partners[home][1], json={}, timeout=30)
        checks.append(Check("the standby's read-only process serves reads, refuses commands",
                            read.status_code == 200 and refused.status_code == 503,
                            f"read {read.status_code}, command {refused.status_code}"))
    return checks


FIRST_BOUNCER_PORT = 56432


def _missing(base: str, partners: dict[str, tuple[int, dict[str, str]]],
             acknowledged: list[str]) -> list[str]:
    """The acknowledged lines that the API cannot find now (every partner's lines, paged)."""
    found: set[str] = set()
    for pid, (_, headers) in partners.items():
        cursor: str | None = None
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{base}/v1/partners/{pid}/lines", headers=headers,
                             params=params, timeout=30).json()
            found.update(row["id"] for row in page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return [line for line in acknowledged if line not in found]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="how long the cluster stays down under load")
    args = parser.parse_args()
    missing = tools_missing()
    if missing:
        _say(f"cannot run: {missing}")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="cluster-demo-"))
    _say(f"making {PARTITIONS} clusters and a standby (logs in {folder})")
    with clusters(f"demo{os.getpid()}", PARTITIONS, fast=False) as made:
        standby = create_standby(made[0], f"demo{os.getpid()}_standby",
                                 free_port(made[-1].port + 1))
        try:
            checks = run(Stage(servers=made, standby=standby, victim=made[2]), folder,
                         seconds=args.seconds)
        finally:
            standby.drop()
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}  ({check.detail})", flush=True)
    failed = [check for check in checks if not check.ok]
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

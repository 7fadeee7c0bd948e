"""Local PostgreSQL clusters standing in for separate servers, a streaming standby and
pgBouncer, made with Debian's own tools (`pg_createcluster`, `pg_basebackup`, `pgbouncer`).

Used by the integration tests (tests/integration/conftest.py creates them once per
session), by `make cluster-demo` (service/ops/cluster_demo.py) and by the partitions
benchmark. Everything is made on spare ports and dropped afterwards (`pg_dropcluster
--stop`), even when a test fails. Creating a cluster needs root (or the postgres user):
the servers run as `postgres`, like the machine's own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

USER = PASSWORD = "postgres"
FIRST_PORT = 55432
# Test servers trade durability for speed; a demo keeps the defaults (its acknowledged
# commits must survive a server's crash). initdb's own sync is skipped either way: it only
# guards against the machine itself crashing during set-up.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class ClusterToolsMissing(RuntimeError):
    """This machine cannot make local clusters (no Debian tools, or not root)."""


def tools_missing() -> str | None:
    """Why clusters cannot be made here, or None."""
    for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_basebackup",
                 "pgbouncer"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install postgresql pgbouncer)"
    if os.geteuid() != 0:
        return "making local clusters needs root (pg_createcluster, then run as postgres)"
    return None


def _version() -> str:
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: float(v))
    return versions[-1]


def _run(*args: str, user: str | None = None, timeout: float = 120) -> str:
    command = ["runuser", "-u", user, "--", *args] if user else list(args)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): "
                           f"{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _cluster_ports() -> set[int]:
    """The ports local clusters are made for, running or not: a cluster another run stopped
    for a while, or is still starting, listens on nothing, and would take its port back."""
    try:
        listed = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                                timeout=30, check=False, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {int(columns[2]) for line in listed.splitlines()
            if len(columns := line.split()) > 2 and columns[2].isdigit()}


def free_port(start: int = FIRST_PORT) -> int:
    """The first port from `start` on that nothing listens on and no local cluster is
    made for."""
    taken = _cluster_ports()
    for port in range(start, start + 2000):
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {start}")


@dataclass
class PgCluster:
    """One local cluster: a server of its own on `port`."""

    name: str
    port: int
    version: str = field(default_factory=_version)

    def url(self, database: str = "postgres", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return (f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"
                + (f"?{query}" if query else ""))

    @property
    def data_dir(self) -> Path:
        return Path(f"/var/lib/postgresql/{self.version}/{self.name}")

    def start(self) -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "start")
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "stop",
             "-m", mode)

    def restart(self) -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, "restart")
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def databases(self) -> set[str]:
        with psycopg.connect(self.url()) as conn:
            return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}

    def drop(self) -> None:
        subprocess.run(["pg_dropcluster", "--stop", self.version, self.name],
                       capture_output=True, check=False, timeout=60)


def create_cluster(name: str, port: int, *, fast: bool = True) -> PgCluster:
    """A new cluster `name` on `port`, started, accepting `postgres:postgres` on
    127.0.0.1 (trust: a throwaway server on the loopback)."""
    cluster = PgCluster(name=name, port=port)
    cluster.drop()  # a leftover of an interrupted run
    options = [f"--pgoption={o}" for o in (*(FAST if fast else ()), "max_connections=200",
                                            "shared_buffers=32MB")]
    try:
        _run("pg_createcluster", cluster.version, name, "--port", str(port), *options,
             "--", "--auth-host=trust", "--auth-local=trust", "--no-sync")
        cluster.start()
    except BaseException:
        cluster.drop()
        raise
    return cluster


def create_standby(primary: PgCluster, name: str, port: int) -> PgCluster:
    """A hot standby of `primary`, streaming from it (`pg_basebackup -R`)."""
    standby = PgCluster(name=name, port=port)
    standby.drop()
    _run("pg_createcluster", standby.version, name, "--port", str(port),
         "--pgoption=hot_standby=on", "--pgoption=max_connections=200",
         "--", "--auth-host=trust", "--auth-local=trust")
    try:
        shutil.rmtree(standby.data_dir)
        _run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", USER,
             "-D", str(standby.data_dir), "-R", "-X", "stream", "-c", "fast", user="postgres")
        standby.start()
    except BaseException:
        standby.drop()
        raise
    return standby


def wait_replayed(primary: PgCluster, standby: PgCluster, timeout: float = 30) -> None:
    """Returns once `standby` has replayed everything `primary` had written when called."""
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    deadline = time.monotonic() + timeout
    with psycopg.connect(standby.url(), autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                               (target,)).fetchone()
            if row and row[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby did not replay up to {target}")
            time.sleep(0.05)


@dataclass
class PgBouncer:
    """pgBouncer in transaction mode on `port`, one database name per entry of
    `databases` (name -> (cluster, database))."""

    port: int
    process: subprocess.Popen[bytes]
    folder: Path

    def url(self, database: str, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return (f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"
                + (f"?{query}" if query else ""))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_pgbouncer(databases: dict[str, tuple[PgCluster, str]], port: int, *,
                    pool_size: int = 20) -> PgBouncer:
    """Writes its pgbouncer.ini and userlist in a folder of its own and runs it as the
    postgres user (pgBouncer refuses to run as root)."""
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o755)
    entries = "\n".join(f"{name} = host=127.0.0.1 port={cluster.port} dbname={database}"
                        for name, (cluster, database) in databases.items())
    (folder / "userlist.txt").write_text(f'"{USER}" "{PASSWORD}"\n')
    (folder / "pgbouncer.ini").write_text(f"""[databases]
{entries}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = plain
auth_file = {folder / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
server_login_retry = 1
; a query queued while its server is down fails after 5 s, not 120 s (the default)
query_wait_timeout = 5
ignore_startup_parameters = extra_float_digits,options
logfile = {folder / "pgbouncer.log"}
""")
    for path in folder.iterdir():
        path.chmod(0o644)
    if os.geteuid() == 0:  # it writes its log here as the postgres user
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    user: dict[str, Any] = {"user": "postgres", "group": "postgres", "extra_groups": []} \
        if os.geteuid() == 0 else {}
    process = subprocess.Popen(["pgbouncer", str(folder / "pgbouncer.ini")],
                               stdout=subprocess.DEVNULL,
                               stderr=(folder / "stderr.log").open("wb"),
                               stdin=subprocess.DEVNULL, **user)
    bouncer = PgBouncer(port=port, process=process, folder=folder)
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return bouncer
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                text = "".join(path.read_text() for path in folder.glob("*.log"))
                bouncer.stop()
                raise RuntimeError(f"pgbouncer did not start: {text[-500:]}") from None
            time.sleep(0.05)


@contextmanager
def clusters(prefix: str, count: int, *, fast: bool = True) -> Iterator[list[PgCluster]]:
    """`count` new clusters named `<prefix>_<i>` on free ports, dropped on the way out."""
    made: list[PgCluster] = []
    try:
        port = FIRST_PORT
        for index in range(count):
            port = free_port(port)
            made.append(create_cluster(f"{prefix}_{index}", port, fast=fast))
            port += 1
        yield made
    finally:
        for cluster in made:
            cluster.drop()

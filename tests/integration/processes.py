"""Run `ledger` commands as real processes for crash and scale-out tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN

LEDGER = str(Path(sys.executable).with_name("ledger"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_DATABASE_URL=database_url, PORTAL_ADMIN_TOKEN=ADMIN_TOKEN,
               PORTAL_CLOCK="system", PORTAL_TICK_SECONDS="0.5", **extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen([LEDGER, *args], env=env, stdout=handle, stderr=handle,
                            start_new_session=True)


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the service did not become healthy")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def kill_under_load(process: subprocess.Popen[bytes], *, base: str, headers: dict[str, str],
                    partner: str, clients: int, at_least: int) -> list[str]:
    """Provisions lines for `partner` from `clients` threads until at least `at_least` were
    acknowledged, then SIGKILLs `process` mid-load; answers the ids acknowledged."""
    acknowledged: list[str] = []
    stop_sending = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=5) as http:
            while not stop_sending.is_set():
                try:
                    response = http.post(f"/v1/partners/{partner}/lines", json={})
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < at_least:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    stop_sending.set()
    for thread in threads:
        thread.join(10)
    return acknowledged

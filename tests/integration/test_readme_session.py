"""The README's first HTTP session, run literally: its shell block is taken from README.md
and pasted into bash against `make run`, as a newcomer would (in a scratch folder, on a
scratch database, so a developer's own `var/` is left alone)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = 8000  # the session names http://127.0.0.1:8000, as `make run` serves by default


def readme_session() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A first session over HTTP", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's first session has no sh block"
    return match.group(1)


def _port_is_free() -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=0.5)
    except httpx.HTTPError:
        return True
    return False


def test_the_readme_session_runs_as_pasted_against_make_run(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("curl") is None:
        pytest.fail("the README's session needs make and curl")
    assert _port_is_free(), f"port {PORT} is taken: the session needs it"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'ledger.db'}",
               PORTAL_ADMIN_TOKEN_FILE=str(tmp_path / "var" / "admin-token"))
    log = (tmp_path / "make-run.log").open("wb")
    server = subprocess.Popen(["make", "-s", "-C", str(ROOT), "run"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "var" / "admin-token").exists() or _port_is_free():
            assert server.poll() is None, (tmp_path / "make-run.log").read_text()
            assert time.monotonic() < deadline, "make run did not answer in time"
            time.sleep(0.2)

        session = subprocess.run(["bash", "-e", "-o", "pipefail"], input=readme_session(),
                                 cwd=tmp_path, env=env, capture_output=True, text=True,
                                 timeout=60)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        log.close()

    assert session.returncode == 0, session.stdout + session.stderr
    lines = session.stdout.splitlines()
    assert lines[0].startswith("partner: ")
    assert lines[1].startswith("sub-account: ") and " line: " in lines[1]
    overview, upcoming = json.loads(lines[2]), json.loads(lines[3])
    assert overview["counts"]["active"] == 1
    assert [item["name"] for item in upcoming["items"]] == ["Acme – Sales"]
    assert upcoming["currency"] == "USD" and upcoming["line_count"] == 1

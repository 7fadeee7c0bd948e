"""HTTP figures with `wrk` (Debian's C load generator) against `ledger serve --workers 2`
on the `seed-demo` data, each beside `/healthz` measured in the same run (issue 18).

The load generator is a C program, not Python threads in the benchmark's process, so
the figures measure the server rather than the client. `wrk` is installed with apt-get
when it is missing (as `.ci/run` installs PostgreSQL); without it, and without root to
install it, the benchmark reports why and measures nothing.

- `/healthz`: no database, no authentication; the reference every ratio is taken from.
- Reads, with the demo partner's admin key: the lines overview, the billing summary and
  the invoice list.
- Commands: `POST .../lines/{lid}/pause` and `/resume`, alternating per line over the
  partner's active lines, from a Lua script. Each wrk thread owns its lines and cycles
  through more lines than it has connections, so a line's previous command has been
  answered before its next one is sent (no 409 from a race the load made up).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import ADMIN_TOKEN, Context, figure, progress, scratch_postgres
from bench.http_load import Server, cpu_seconds, ledger_executable

TITLE = "HTTP with wrk (`ledger serve --workers 2`, seed-demo data, PostgreSQL)"
WORKERS = 2
CONNECTIONS = 16
THREADS = 2
READ_RATIO_TARGET = 0.6  # reads ≥ 0.6 × /healthz
COMMAND_RATIO_TARGET = 0.3  # commands ≥ 0.3 × /healthz
P99_OVER_P50_TARGET = 3.0

# Printed by wrk's `done` hook: one JSON line the benchmark parses (wrk's own text output
# rounds latencies and changes units).
_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""

# Pause/resume alternating per line. `init` receives every line as `<id>=<first step>`
# (wrk passes the same arguments to every thread); each thread takes its share.
_COMMANDS = r"""
local counter = 0
local threads = {}
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local lines = {}
local state = {}
local cursor = 0
init = function(args)
  local total = tonumber(args[1])
  local pid = args[2]
  for i = 3, #args do
    if (i - 3) % total == id then
      local line, step = args[i]:match("([^=]+)=(%a+)")
      table.insert(lines, "/v1/partners/" .. pid .. "/lines/" .. line)
      state[#lines] = step
    end
  end
end

request = function()
  cursor = cursor % #lines + 1
  local step = state[cursor]
  state[cursor] = (step == "pause") and "resume" or "pause"
  return wrk.format("POST", lines[cursor] .. "/" .. step)
end
"""


def ensure_wrk() -> str | None:
    """The path of `wrk`, installed with apt-get when it is missing; None if it cannot be."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    progress("installing wrk (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                      **quiet).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, **quiet)
    return shutil.which("wrk")


def seed_demo(url: str) -> tuple[str, str]:
    """Fills the new database with `ledger seed-demo`; (partner id, its admin key token)."""
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_CLOCK": "system",
           "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("PORTAL_CLOCK_START", None)
    out = subprocess.run([*ledger_executable(), "seed-demo"], env=env, capture_output=True,
                         text=True, check=True, timeout=600).stdout
    pid = re.search(r"partner id: (\S+)", out)
    token = re.search(r"admin key token: (\S+)", out)
    if pid is None or token is None:
        raise RuntimeError(f"seed-demo printed no partner id or token: {out!r}")
    return pid.group(1), token.group(1)


def active_lines(base: str, pid: str, token: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while True:
            params: dict[str, Any] = {"status": "active", "limit": 500}
            if cursor is not None:
                params["cursor"] = cursor
            page = client.get(f"/v1/partners/{pid}/lines", params=params)
            page.raise_for_status()
            body = page.json()
            found += [row for row in body["data"] if row["sending"] == "enabled"]
            cursor = body.get("next_cursor")
            if not cursor:
                return found


def enough_lines(base: str, pid: str, token: str, wanted: int) -> list[str]:
    """The partner's active, sending lines; new ones provisioned until there are
    `wanted` (the demo partner has a dozen, too few for the command load)."""
    rows = active_lines(base, pid, token)
    lines = [row["id"] for row in rows]
    # a line is active once it is assigned to a sub-account
    body = {"sub_account_id": rows[0]["sub_account_id"]} if rows else {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while len(lines) < wanted:
            made = client.post(f"/v1/partners/{pid}/lines", json=body)
            made.raise_for_status()
            if made.json()["status"] != "active":
                raise RuntimeError(f"a provisioned line is {made.json()['status']}, not active")
            lines.append(made.json()["id"])
    return lines


def first_steps(base: str, pid: str, token: str, lines: list[str]) -> tuple[str, ...]:
    """`<line id>=pause|resume`: each line's next step from its state now."""
    headers = {"Authorization": f"Bearer {token}"}
    steps = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for line in lines:
            got = client.get(f"/v1/partners/{pid}/lines/{line}")
            got.raise_for_status()
            steps.append(f"{line}={'pause' if got.json()['sending'] == 'enabled' else 'resume'}")
    return tuple(steps)


def wrk(binary: str, server: Server, path: str, *, token: str | None, seconds: float,
        script: str = "", args: tuple[str, ...] = ()) -> dict[str, Any]:
    """One wrk run; its requests, rate, p50/p99 (ms), non-2xx and the server's CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + _DONE)
        lua = handle.name
    command = [binary, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout",
               "10s", "-s", lua]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    command += [server.base + path, *(["--", *args] if args else [])]
    pids = server.pids()
    cpu0 = sum(cpu_seconds(p) for p in pids)
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True,
                             timeout=seconds + 60).stdout
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lua)
    match = re.search(r"WRK_RESULT (\{.*\})", out)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {out!r}")
    result: dict[str, Any] = json.loads(match.group(1))
    ok = result["requests"] - result["non_2xx"]
    result["rate"] = ok / result["seconds"]
    result["p50"] = result["p50_us"] / 1000
    result["p99"] = result["p99_us"] / 1000
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    result["server_cpu"] = cpu / result["seconds"]
    # CPU the server spent per request: steadier than a rate on a shared, busy machine
    result["cpu_ms"] = cpu / result["requests"] * 1000 if result["requests"] else 0.0
    return result


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("wrk", None, "", note=ctx.postgres_problem)]}
    binary = ensure_wrk()
    if binary is None:
        return {"figures": [figure("wrk", None, "", note="wrk is missing and could not be "
                                   "installed (apt-get needs root)")]}
    seconds = 3.0 if ctx.quick else 10.0
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    log_dir = Path(tempfile.mkdtemp(prefix="bench_wrk_"))
    with scratch_postgres("wrk") as url:
        progress("wrk: seeding the demo partner (ledger seed-demo)")
        pid, token = seed_demo(url)
        server = Server(url, workers=WORKERS, log_dir=log_dir)
        try:
            server.wait_ready(120)
            # each wrk thread cycles through more lines than it has connections
            lines = enough_lines(server.base, pid, token, 4 * CONNECTIONS)
            partner = f"/v1/partners/{pid}"
            phases: dict[str, tuple[str, str | None, str]] = {
                "/healthz": ("/healthz", None, ""),
                "GET /lines/overview": (f"{partner}/lines/overview", token, ""),
                "GET /billing/summary": (f"{partner}/billing/summary", token, ""),
                "GET /invoices": (f"{partner}/invoices", token, ""),
                "POST pause/resume": (partner, token, _COMMANDS),
            }
            results: dict[str, dict[str, Any]] = {}
            for name, (path, auth, script) in phases.items():
                progress(f"wrk: {name}, {seconds:g}s")
                # a short warm-up: connections opened, caches and prepared statements filled
                for length in (1.0, seconds):
                    args = ((str(THREADS), pid, *first_steps(server.base, pid, token, lines))
                            if script else ())
                    results[name] = wrk(binary, server, path, token=auth, seconds=length,
                                        script=script, args=args)
        finally:
            server.stop()
    health = results["/healthz"]["rate"]
    for name, result in results.items():
        reference = name == "/healthz"
        is_command = name.startswith("POST")
        ratio = result["rate"] / health if health else 0.0
        spread = result["p99"] / result["p50"] if result["p50"] else 0.0
        note = (f"{result['requests']:,} requests in {result['seconds']:.1f}s, "
                f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, "
                f"{result['non_2xx']} non-2xx, {result['socket_errors']} socket errors; "
                f"server CPU {result['server_cpu']:.0%} of a core, "
                f"{result['cpu_ms']:.2f} ms a request")
        figures.append(figure(f"{name}: rate", result["rate"], "/s", note=note))
        if reference:
            continue
        figures.append(figure(f"{name}: rate / /healthz rate", ratio, "x",
                              target=(">=", COMMAND_RATIO_TARGET if is_command
                                      else READ_RATIO_TARGET)))
        if not is_command:
            figures.append(figure(f"{name}: p99 / p50", spread, "x",
                                  target=("<=", P99_OVER_P50_TARGET)))
    notes.append(f"wrk {THREADS} threads, {CONNECTIONS} connections, {seconds:g}s a phase "
                 f"after a 1s warm-up; `ledger serve --workers {WORKERS}` on the seed-demo "
                 f"database; the commands cycle over {len(lines)} active lines; the load "
                 "generator, the server and PostgreSQL share the machine's cores.")
    return {"figures": figures, "notes": notes, "results": results}

"""HTTP load on loopback against `ledger serve` in production mode, and the API process's
memory after a long log (issue 7: ≥ 400 commands/s, ≥ 1,500 reads/s, read p99 ≤ 20 ms on
2 cores; RSS ≤ 300 MB after 1,000,000 events).

The server is `ledger serve --host 127.0.0.1 --workers N` (N = 2, then 1) as a subprocess
with `PORTAL_CLOCK=system` over the long log's PostgreSQL database (`million.py`), so
every request runs against 1,000,000 events' views (50,000 in quick mode). The load
generator is in this process: Python threads, one `httpx.Client` (keep-alive) each, in a
closed loop, bounded by a request count and a duration; it stops by itself, and only
talks to 127.0.0.1. It shares the machine's 2 cores with the server and PostgreSQL; its
own CPU use is reported beside each phase.

- Commands: `POST /v1/partners/{pid}/lines/{lid}/pause` or `/resume`, alternating per
  line over every line of every partner (each thread owns its lines), with the partner's
  own admin key. A command answers after the views and policies are caught up.
- Reads: the lines overview, one line (`GET .../lines/{lid}`) and the billing summary, in
  turn, for partners and lines picked at random.

After the load, the resident set size (VmRSS) of every process of the server is read from
`/proc/<pid>/status`: the workers have caught up, served the commands and the reads.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from bench.common import ADMIN_TOKEN, Context, figure, met, percentile, profile, progress
from service.commands.lines import PauseSending, ResumeSending

TITLE = "HTTP load on loopback (`ledger serve`, production mode, PostgreSQL)"
COMMANDS_TARGET = 400.0
READS_TARGET = 1_500.0
READ_P99_TARGET_MS = 20.0
RSS_TARGET_MB = 300.0
THREADS = 8


@dataclass
class Phase:
    name: str
    samples: list[tuple[str, float, int]] = field(default_factory=list)  # kind, s, status
    seconds: float = 0.0
    client_cpu: float = 0.0  # this process's CPU seconds during the phase
    server_cpu: float = 0.0  # the server processes' CPU seconds during the phase

    @property
    def ok(self) -> list[float]:
        return [s for _, s, status in self.samples if status == 200]

    @property
    def errors(self) -> int:
        return sum(1 for _, _, status in self.samples if status != 200)

    @property
    def rate(self) -> float:
        return len(self.ok) / self.seconds if self.seconds else 0.0


# -- processes ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    tree, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += tree.get(pid, [])
    return out


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _role(pid: int, root: int, workers: int) -> str:
    """What a process of `ledger serve` is: with one worker the root serves; with more,
    uvicorn's supervisor (the root) spawns the workers (and multiprocessing may add its
    resource tracker)."""
    if workers == 1:
        return "API worker" if pid == root else "helper"
    if pid == root:
        return "supervisor"
    cmd = command_line(pid)
    return "helper" if "resource_tracker" in cmd else "API worker"


def ledger_executable() -> list[str]:
    script = Path(sys.executable).parent / "ledger"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.ops.cli"]


class Server:
    """`ledger serve` as a subprocess in its own session, stopped by its process id."""

    def __init__(self, url: str, *, workers: int, log_dir: Path) -> None:
        self.port = _free_port()
        self.workers = workers
        self.log = (log_dir / f"serve-{workers}.log").open("w")
        env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_CLOCK": "system",
               "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN}
        for key in ("PORTAL_CLOCK_START",):
            env.pop(key, None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*ledger_executable(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ledger serve exited with {self.proc.returncode}; see "
                                   f"{self.log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            time.sleep(0.2)
        raise TimeoutError(f"ledger serve not ready after {timeout:.0f}s")

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The session holds only this server and the workers it started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


# -- load --------------------------------------------------------------------------------

def drive(server: Server, name: str, request: Any, *, threads: int, seconds: float,
          max_requests: int) -> Phase:
    """Runs `request(thread, client) -> (kind, status)` from `threads` threads until
    `seconds` have passed or `max_requests` were sent, whichever comes first."""
    phase = Phase(name)
    counter = itertools.count()
    lock = threading.Lock()
    start = time.perf_counter()
    stop_at = start + seconds

    def worker(index: int) -> None:
        local: list[tuple[str, float, int]] = []
        with httpx.Client(base_url=server.base, timeout=10.0) as client:
            while time.perf_counter() < stop_at and next(counter) < max_requests:
                t0 = time.perf_counter()
                try:
                    kind, status = request(index, client)
                except httpx.HTTPError:
                    kind, status = "transport error", 0
                local.append((kind, time.perf_counter() - t0, status))
        with lock:
            phase.samples += local

    pids = server.pids()
    server_cpu0 = sum(cpu_seconds(p) for p in pids)
    own0 = os.times()
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=seconds + 60)
    phase.seconds = time.perf_counter() - start
    own1 = os.times()
    phase.client_cpu = (own1.user + own1.system) - (own0.user + own0.system)
    phase.server_cpu = sum(cpu_seconds(p) for p in pids) - server_cpu0
    return phase


class Commands:
    """Pause/resume alternating per line; thread i owns every `threads`-th line."""

    def __init__(self, log: Any, threads: int) -> None:
        pairs = [(pid, line) for pid in log.partner_ids for line in log.lines[pid]]
        random.Random(3).shuffle(pairs)
        self.owned = [pairs[i::threads] for i in range(threads)]
        self.cursor = [0] * threads
        self.sending = log.sending  # shared, but each line is owned by one thread
        self.tokens = log.tokens

    def __call__(self, index: int, client: httpx.Client) -> tuple[str, int]:
        lines = self.owned[index]
        pid, line = lines[self.cursor[index] % len(lines)]
        self.cursor[index] += 1
        step = "pause" if self.sending[line] == "enabled" else "resume"
        headers = {"Authorization": f"Bearer {self.tokens[pid]}"}
        r = client.post(f"/v1/partners/{pid}/lines/{line}/{step}", headers=headers)
        if r.status_code == 200:
            self.sending[line] = r.json()["sending"]
        else:  # resynchronise (not timed into the next request)
            got = client.get(f"/v1/partners/{pid}/lines/{line}", headers=headers)
            if got.status_code == 200:
                self.sending[line] = got.json()["sending"]
        return step, r.status_code


class Reads:
    KINDS = ("overview", "line", "billing summary")

    def __init__(self, log: Any, threads: int) -> None:
        self.partners: list[UUID] = list(log.partner_ids)
        self.lines = log.lines
        self.tokens = log.tokens
        self.rngs = [random.Random(100 + i) for i in range(threads)]
        self.turn = [i for i in range(threads)]

    def __call__(self, index: int, client: httpx.Client) -> tuple[str, int]:
        rng = self.rngs[index]
        pid = rng.choice(self.partners)
        kind = self.KINDS[self.turn[index] % len(self.KINDS)]
        self.turn[index] += 1
        headers = {"Authorization": f"Bearer {self.tokens[pid]}"}
        if kind == "overview":
            url = f"/v1/partners/{pid}/lines/overview"
        elif kind == "line":
            url = f"/v1/partners/{pid}/lines/{rng.choice(self.lines[pid])}"
        else:
            url = f"/v1/partners/{pid}/billing/summary"
        return kind, client.get(url, headers=headers).status_code


class Health:
    """`GET /healthz`: no database, no auth; what the framework alone costs a request."""

    def __call__(self, index: int, client: httpx.Client) -> tuple[str, int]:
        return "healthz", client.get("/healthz").status_code


def keep_alive_probe(server: Server, n: int = 100) -> tuple[float, float]:
    """p50 of `GET /healthz` from one client (`http.client`, no TLS set-up), on one
    keep-alive connection, and on a new connection per request (seconds)."""
    kept, fresh = [], []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            kept.append(time.perf_counter() - t0)
    finally:
        conn.close()
    for _ in range(n):
        t0 = time.perf_counter()
        one = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            one.request("GET", "/healthz")
            one.getresponse().read()
        finally:
            one.close()
        fresh.append(time.perf_counter() - t0)
    return percentile(kept, 50), percentile(fresh, 50)


def app_work_profile(log: Any, n: int = 150) -> str:
    """What the routes do per request, called in-process on the benchmark's own ledger
    (authenticate the key, load the partner, the view read; or the command, its catch-up
    and the answer's line): the application's share of a request, without FastAPI and
    uvicorn (the server's worker threads cannot be profiled from here)."""
    from bench.million import ADMIN
    from projections import billing, lines
    from service.api.representations import line_json
    from service.runtime.as_of import view_source

    ledger = log.ledger
    rng = random.Random(9)
    partners = list(log.partner_ids)

    def requests() -> None:
        for i in range(n):
            pid = rng.choice(partners)
            ledger.app.authenticate(log.tokens[pid])
            ledger.app.partner(pid)
            source = view_source(ledger, pid, None)
            kind = i % 4
            if kind == 0:
                source.read(lines.overview, partner_id=str(pid))
            elif kind == 1:
                source.read(lines.get_line, partner_id=str(pid),
                            line_id=str(rng.choice(log.lines[pid])))
            elif kind == 2:
                source.read(billing.billing_summary, partner_id=str(pid), now=source.now)
            else:
                line = rng.choice(log.lines[pid])
                step = PauseSending if log.sending[line] == "enabled" else ResumeSending
                ledger.execute(step(partner_id=pid, line_id=line), actor=ADMIN)
                log.sending[line] = line_json(ledger.app.line(pid, line))["sending"]

    text, _ = profile(requests, top=25)
    return text


# -- the benchmark -----------------------------------------------------------------------

def _latency_note(phase: Phase) -> str:
    ok = phase.ok
    if not ok:
        return "no successful request"
    return (f"{len(ok):,} requests in {phase.seconds:.1f}s, {THREADS} client threads; p50 "
            f"{percentile(ok, 50) * 1000:.1f} ms, p99 {percentile(ok, 99) * 1000:.1f} ms; "
            f"{phase.errors} errors; CPU: server {phase.server_cpu / phase.seconds:.0%}, "
            f"load generator {phase.client_cpu / phase.seconds:.0%} of a core")


def run(ctx: Context) -> dict[str, Any]:
    if ctx.postgres_problem:
        return {"figures": [figure("HTTP", None, "", note=f"not run: {ctx.postgres_problem}")]}
    log = ctx.million()
    ledger = log.ledger
    ledger.processor.run()  # the server starts on caught-up views
    seconds, warmup, cap = (2.0, 0.5, 5_000) if ctx.quick else (20.0, 3.0, 60_000)
    figures: list[dict[str, Any]] = []
    notes: list[str] = []
    log_dir = Path(tempfile.mkdtemp(prefix="bench_http_"))
    try:
        for workers in (2, 1):
            server = Server(log.url, workers=workers, log_dir=log_dir)
            try:
                ready = server.wait_ready(timeout=300)
                progress(f"http: ledger serve --workers {workers} ready in {ready:.1f}s; "
                         f"{seconds:.0f}s of commands, then {seconds:.0f}s of reads")
                label = f"{workers} worker{'s' if workers > 1 else ''}"
                commands, reads = Commands(log, THREADS), Reads(log, THREADS)
                kept, fresh = keep_alive_probe(server, n=30 if ctx.quick else 100)
                health = drive(server, "healthz", Health(), threads=THREADS,
                               seconds=seconds / 2, max_requests=cap)
                drive(server, "warm-up", commands, threads=THREADS, seconds=warmup,
                      max_requests=cap)
                c = drive(server, "commands", commands, threads=THREADS, seconds=seconds,
                          max_requests=cap)
                drive(server, "warm-up", reads, threads=THREADS, seconds=warmup,
                      max_requests=cap)
                r = drive(server, "reads", reads, threads=THREADS, seconds=seconds,
                          max_requests=cap)
                figures += [
                    figure(f"{label}: /healthz keep-alive p50, one client", kept * 1000, "ms",
                           note=f"the same on a new connection per request: "
                                f"{fresh * 1000:.2f} ms"),
                    figure(f"{label}: /healthz/s (no database, no auth)", health.rate, "/s",
                           note=_latency_note(health)),
                    figure(f"{label}: commands/s", c.rate, "/s",
                           target=(">=", COMMANDS_TARGET), note=_latency_note(c)),
                    figure(f"{label}: command p99", percentile(c.ok, 99) * 1000
                           if c.ok else None, "ms", note="pause/resume, answered after "
                           "the views caught up"),
                    figure(f"{label}: reads/s", r.rate, "/s", target=(">=", READS_TARGET),
                           note=_latency_note(r)),
                    figure(f"{label}: read p50", percentile(r.ok, 50) * 1000 if r.ok else None,
                           "ms"),
                    figure(f"{label}: read p99", percentile(r.ok, 99) * 1000 if r.ok else None,
                           "ms", target=("<=", READ_P99_TARGET_MS)),
                ]
                for kind in Reads.KINDS:
                    values = [s for k, s, status in r.samples if k == kind and status == 200]
                    if values:
                        notes.append(
                            f"{label}, {kind}: {len(values):,} reads, p50 "
                            f"{percentile(values, 50) * 1000:.1f} ms, p99 "
                            f"{percentile(values, 99) * 1000:.1f} ms.")
                statuses = sorted({s for _, _, s in c.samples + r.samples if s != 200})
                if statuses:
                    notes.append(f"{label}: non-200 answers seen: {statuses}.")
                # Memory after the load: every process of the server.
                rss = {pid: rss_mb(pid) for pid in server.pids()}
                rss = {pid: mb for pid, mb in rss.items() if mb is not None}
                roles = {pid: _role(pid, server.proc.pid, workers) for pid in rss}
                api = {pid: mb for pid, mb in rss.items() if roles[pid] == "API worker"}
                worst = max(api.values()) if api else None
                figures.append(figure(
                    f"{label}: API process RSS after the load", worst, "MB",
                    target=("<=", RSS_TARGET_MB),
                    note=f"the largest API process; log of "
                         f"{ledger.app.recorder.max_notification_id():,} events; "
                         + ", ".join(f"{roles[p]} {mb:.0f} MB" for p, mb in sorted(rss.items()))))
            finally:
                server.stop()
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    ledger.processor.run()
    profiles: dict[str, str] = {}
    if not all(met(f) is not False for f in figures):
        progress("http: targets missed; profiling the routes' work in-process")
        profiles["the application's work of 150 requests in-process (3 reads : 1 command), "
                 "top 25 by cumulative time"] = app_work_profile(log)
    notes.insert(0, f"Database: the long log ({log.events:,} events seeded, "
                    f"{len(log.partner_ids)} partners, {sum(map(len, log.lines.values())):,} "
                    f"lines); load generator: {THREADS} threads, each phase at most "
                    f"{seconds:.0f}s or {cap:,} requests after a {warmup:.0f}s warm-up.")
    return {"figures": figures, "notes": notes, "profiles": profiles}

"""Runs every benchmark and appends one section to docs/BENCHMARKS.md: the date, the
machine, the commit, and a table of benchmark | figure | target | met?, followed by each
benchmark's notes and, for a missed target, its profile.

    python -m bench.run [--quick] [--only NAME ...] [--output PATH]

`--quick` (also `make bench QUICK=1`) runs smaller sizes in under two minutes; its
figures are for development, not for comparing with the targets.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import (
    as_of,
    as_of_distinct,
    commands,
    common,
    cycle_close,
    export,
    http_load,
    partitions,
    ratios,
    rebuild,
    timers,
    upcoming_invoice,
    usage_ingest,
    view_reads,
    view_reads_long,
    webhooks,
    wrk_http,
)

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "BENCHMARKS.md"
# Order matters: the big-partner ledgers serve `upcoming_invoice`, `view_reads` and
# `as_of_distinct` (which moves their clock past the month, so it comes last of the three)
# and are released before the cycle close, the largest setup. The long log (`million.py`) is
# seeded by the first benchmark that needs it and serves the ones after it; it is
# released at the end.
BENCHMARKS: dict[str, ModuleType] = {
    "commands": commands,
    "partitions": partitions,
    "upcoming_invoice": upcoming_invoice,
    "view_reads": view_reads,
    "as_of_distinct": as_of_distinct,
    "cycle_close": cycle_close,
    "usage_ingest": usage_ingest,
    "as_of": as_of,
    "view_reads_long": view_reads_long,
    "rebuild": rebuild,
    "timers": timers,
    "export": export,
    "http_load": http_load,
    "webhooks": webhooks,
    "wrk_http": wrk_http,
}
HEADER = """# Benchmarks

Figures written by `make bench` (`python -m bench.run`); each run appends a section
below with its date, machine and commit. Quick runs (`make bench QUICK=1`) use smaller
sizes and are for development; compare full runs with the targets. Targets come from
issues 4, 5, 6 and 7. Nothing here is asserted in the test suite.
"""


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _cpu_ticks() -> tuple[int, int] | None:
    """(total, idle) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(fields), fields[3] + fields[4]


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


class Occupancy:
    """How busy the machine was while the benchmarks ran: all CPUs, and this process."""

    def __init__(self) -> None:
        self.ticks = _cpu_ticks()
        self.own = os.times()
        self.wall = time.perf_counter()
        self.load_before = _load()

    def describe(self) -> str:
        ticks, own, wall = _cpu_ticks(), os.times(), time.perf_counter() - self.wall
        cores = os.cpu_count() or 1
        mine = (own.user + own.system + own.children_user + own.children_system
                - self.own.user - self.own.system - self.own.children_user
                - self.own.children_system) / (wall * cores)
        text = f"load average (1/5/15 min) {self.load_before} at the start, {_load()} at the end"
        if ticks and self.ticks and ticks[0] > self.ticks[0]:
            total, idle = ticks[0] - self.ticks[0], ticks[1] - self.ticks[1]
            busy = (total - idle) / total
            text += (f"; CPUs busy {busy:.0%} of {cores} cores during the run, this process "
                     f"{mine:.0%} (the rest is PostgreSQL serving it and any other work on "
                     "the machine)")
        return text


def machine() -> dict[str, str]:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cores": str(os.cpu_count()),
        "RAM": _ram(),
        "CPU": _cpu_model(),
        "Python": platform.python_version(),
        "PostgreSQL": common.postgres_version() or "unreachable",
        "OS": f"{platform.system()} {platform.release()}",
        "commit": commit + (" (with uncommitted changes to tracked files)" if dirty else ""),
    }


def _value(fig: dict[str, Any]) -> str:
    value, unit = fig["value"], fig["unit"]
    if value is None:
        return "not run"
    if unit in ("/s", "events/s"):
        text = f"{value:,.0f}"
    elif unit == "ms":
        text = f"{value:.2f}"
    elif unit == "s" and value < 10:
        text = f"{value:.3f}"
    else:
        text = f"{value:,.1f}"
    return f"{text} {unit}".strip()


def _target(fig: dict[str, Any]) -> str:
    if fig["target"] is None:
        return "—"
    op, threshold = fig["target"]
    sign = "≥" if op == ">=" else "≤"
    return f"{sign} {threshold:,g} {fig['unit']}".strip()


def _met(fig: dict[str, Any]) -> str:
    result = common.met(fig)
    return "—" if result is None else ("yes" if result else "**no**")


def section(*, quick: bool, results: dict[str, dict[str, Any]], info: dict[str, str],
            started: datetime, seconds: float) -> str:
    mode = "quick" if quick else "full"
    out = [f"## {started:%Y-%m-%d %H:%M} UTC — {mode} run", ""]
    out += [f"- {key}: {value}" for key, value in info.items()]
    out += [f"- run time: {seconds:.0f} s (`python -m bench.run"
            f"{' --quick' if quick else ''}`)", ""]
    if quick:
        out += ["Quick mode: smaller sizes than the targets are stated for; the `met?` "
                "column compares them anyway.", ""]
    out += ["| benchmark | figure | value | target | met? | notes |",
            "|---|---|---|---|---|---|"]
    for name, result in results.items():
        title = BENCHMARKS[name].TITLE
        for fig in result.get("figures", []):
            note = fig["note"].replace("|", "\\|")
            out.append(f"| {title} | {fig['name']} | {_value(fig)} | {_target(fig)} | "
                       f"{_met(fig)} | {note} |")
    out.append("")
    summary = ratios.table(results)
    if summary:
        out += [summary]
    for name, result in results.items():
        notes, profiles = result.get("notes", []), result.get("profiles", {})
        if not notes and not profiles:
            continue
        out += [f"### {BENCHMARKS[name].TITLE}", ""]
        out += [f"- {note}" for note in notes]
        for label, text in profiles.items():
            out += ["", f"Profile — {label}:", "", "```", text, "```"]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text() if path.exists() else HEADER
    path.write_text(existing.rstrip() + "\n\n" + text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=None,
                        help="run only these benchmarks")
    parser.add_argument("--output", type=Path, default=OUTPUT,
                        help="the markdown file to append to (default: docs/BENCHMARKS.md)")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    ctx = common.Context(quick=args.quick)
    if ctx.postgres_problem:
        common.progress(f"PostgreSQL benchmarks skipped: {ctx.postgres_problem}")
    info = machine()
    occupancy = Occupancy()
    results: dict[str, dict[str, Any]] = {}
    failed = False
    try:
        for name, module in BENCHMARKS.items():
            if args.only is not None and name not in args.only:
                continue
            if name == "cycle_close":
                ctx.release_big_partners()
            common.progress(f"== {name} ==")
            b0 = time.perf_counter()
            try:
                results[name] = module.run(ctx)
            except Exception as e:  # report the failure in the section, run the rest
                failed = True
                traceback.print_exc()
                results[name] = {"figures": [common.figure(
                    "error", None, "", note=f"{type(e).__name__}: {e}")]}
            common.progress(f"== {name} done in {time.perf_counter() - b0:.0f}s ==")
    finally:
        ctx.release_big_partners()
        ctx.release_million()
    info["machine load"] = occupancy.describe()
    text = section(quick=args.quick, results=results, info=info, started=started,
                   seconds=time.perf_counter() - t0)
    append(args.output, text)
    print(text)
    common.progress(f"appended to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

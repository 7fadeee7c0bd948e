"""Issue 18's summary: each figure divided by its same-run reference, against the target
ratio. Built from the figures the other benchmarks return, so a ratio only compares
numbers measured in one run on one (noisy, shared) machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ratio:
    path: str
    figure: float | None
    unit: str
    reference: str
    reference_value: float | None
    target: tuple[str, float]

    @property
    def value(self) -> float | None:
        if self.figure is None:
            return None
        if self.reference_value is None:  # an absolute target
            return self.figure
        return self.figure / self.reference_value if self.reference_value else None

    @property
    def met(self) -> bool | None:
        value = self.value
        if value is None:
            return None
        op, threshold = self.target
        return value >= threshold if op == ">=" else value <= threshold


def _figures(results: dict[str, dict[str, Any]], bench: str) -> dict[str, float | None]:
    return {f["name"]: f["value"] for f in results.get(bench, {}).get("figures", [])}


def ratios(results: dict[str, dict[str, Any]]) -> list[Ratio]:
    out: list[Ratio] = []
    wrk = results.get("wrk_http", {}).get("results", {})
    health = wrk.get("/healthz", {}).get("rate")
    for name in ("GET /lines/overview", "GET /billing/summary", "GET /invoices"):
        if name in wrk:
            r = wrk[name]
            out.append(Ratio(f"HTTP {name}, wrk (p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms; "
                             f"server CPU {r['cpu_ms']:.2f} ms a request)",
                             r["rate"], "/s", "`/healthz` rate", health, (">=", 0.6)))
            out.append(Ratio(f"HTTP {name}: p99", r["p99"], "ms", "its p50", r["p50"],
                             ("<=", 3.0)))
    if "POST pause/resume" in wrk:
        r = wrk["POST pause/resume"]
        out.append(Ratio(f"HTTP commands, wrk (p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms; "
                         f"server CPU {r['cpu_ms']:.2f} ms a request)",
                         r["rate"], "/s", "`/healthz` rate", health, (">=", 0.3)))
    commands = _figures(results, "commands")
    if commands:
        out += [
            Ratio("PostgreSQL command + catch-up, 1 thread",
                  commands.get("postgres command + catch-up"), "/s",
                  "bare library get-and-update",
                  commands.get("postgres baseline: bare library get-and-update"), (">=", 2.0)),
            Ratio("PostgreSQL command + catch-up, 8 threads",
                  commands.get("postgres command + catch-up, 8 threads"), "/s",
                  "bare psycopg insert",
                  commands.get("postgres baseline: bare psycopg insert, one row per "
                               "transaction"), (">=", 0.7)),
            Ratio("SQLite command + catch-up, 1 thread",
                  commands.get("sqlite command + catch-up"), "/s",
                  "bare library get-and-update",
                  commands.get("sqlite baseline: bare library get-and-update"), (">=", 1.0)),
        ]
    rebuild = _figures(results, "rebuild")
    if rebuild:
        out += [
            Ratio("full rebuild", rebuild.get("processor.rebuild()"), "events/s", "—", None,
                  (">=", 25_000)),
            Ratio("full rebuild: RSS growth", rebuild.get("rebuilding process RSS growth"),
                  "MB", "—", None, ("<=", 200)),
        ]
    return out


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "not run"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.2f} {unit}"


def table(results: dict[str, dict[str, Any]]) -> str:
    """The markdown summary table, or '' when no benchmark behind it ran."""
    rows = ratios(results)
    if not rows:
        return ""
    out = ["### Issue 18: ratios against their same-run references", "",
           "| path | figure | same-run reference | ratio | target | met? |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        sign = "≥" if r.target[0] == ">=" else "≤"
        if r.reference_value is None:
            reference, ratio, target = "—", "—", f"{sign} {r.target[1]:,g} {r.unit}"
        else:
            reference = f"{r.reference} {_number(r.reference_value, r.unit)}"
            ratio = "not run" if r.value is None else f"{r.value:.2f}"
            target = f"{sign} {r.target[1]:g} ×"
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        out.append(f"| {r.path} | {_number(r.figure, r.unit)} | {reference} | {ratio} | "
                   f"{target} | {met} |")
    return "\n".join(out) + "\n"

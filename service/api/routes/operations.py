"""Operations: audit trail, manual clock, projection rebuild, quarantine, health."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from aggregates.bounds import MAX_POSITION
from aggregates.errors import NotFound
from projections import audit, timers
from projections.times import api_time, stored
from service.api.answers import Page, answering
from service.api.auth import ClusterDep, Context, PlatformContext, partner_access, platform_access
from service.api.fields import EventType, Instant, LogPosition, PartitionNumber
from service.api.operations_answers import (
    AuditEvent,
    Clock,
    ClockMoved,
    Health,
    QuarantinePage,
    QuarantineRetried,
    Rebuilt,
    Timer,
    VerifyJob,
)
from service.api.paging import AsOf, PageDep
from service.api.schemas import ClockMove
from service.ops import quarantine
from service.ops.verify_jobs import VerifyJobs

router = APIRouter(tags=["operations"])


@router.get("/v1/partners/{pid}/audit-trail", **answering(Page[AuditEvent]))
def audit_trail(page: PageDep, as_of: AsOf = None, entity_id: UUID | None = None,
                event_type: EventType | None = None, since: Instant | None = None,
                until: Instant | None = None,
                ctx: Context = partner_access("audit.read")) -> dict[str, Any]:
    """Every event of the partner in log order; `as_of` stops at that moment's position."""
    views = ctx.views(as_of)
    rows, last = ctx.ledger.read_model.read(
        audit.trail, partner_id=str(ctx.partner_id),
        entity_id=str(entity_id) if entity_id else None, event_type=event_type,
        since=stored(since) if since else None, until=stored(until) if until else None,
        after_position=page.after, limit=page.limit, until_position=views.position)
    return page.answer(rows, last)


def _manual(ctx: PlatformContext) -> None:
    if not ctx.ledger.clock.manual:
        raise NotFound("the clock is the system clock; set PORTAL_CLOCK=manual to move it")


@router.get("/v1/admin/clock", **answering(Clock))
def get_clock(ctx: PlatformContext = platform_access("admin.operate")) -> dict[str, Any]:
    _manual(ctx)
    return {"now": api_time(ctx.ledger.clock.now()), "mode": "manual"}


@router.post("/v1/admin/clock", **answering(ClockMoved))
def move_clock(body: ClockMove,
               ctx: PlatformContext = platform_access("admin.operate")) -> dict[str, Any]:
    _manual(ctx)
    passed = ctx.ledger.scheduler.advance_pass(body.now)
    return {"now": api_time(ctx.ledger.clock.now()), "mode": "manual",
            "jobs_run": [{"job": name, "at": api_time(at)} for name, at in passed.ran],
            "fired": [{"kind": f.kind, "partner_id": f.partner_id, "at": api_time(f.at)}
                      for f in passed.fired]}


@router.get("/v1/admin/timers", **answering(Page[Timer]))
def list_timers(page: PageDep,
                ctx: PlatformContext = platform_access("admin.operate")) -> dict[str, Any]:
    """The next due timers of every partition, earliest first: what the scheduler runs
    next (`{kind, partner_id, due_at}`). A timer due before now runs at its job's next
    firing (its step failed, or it came after its job ran)."""
    wanted = page.after + page.limit + 1  # offset paging: the cursor counts rows shown
    rows = sorted((row for ledger in ctx.cluster.ledgers
                   for row in ledger.read_model.read(timers.listing, offset=0, limit=wanted)),
                  key=lambda r: (r["due_at"], r["kind"], r["partner_id"]))
    shown = rows[page.after:page.after + page.limit]
    more = len(rows) > page.after + page.limit
    return page.answer([{"kind": r["kind"], "partner_id": r["partner_id"],
                         "due_at": api_time(r["due_at"])} for r in shown],
                       page.after + len(shown) if more else None)


def _verify_jobs(request: Request) -> VerifyJobs:
    return request.app.state.verify_jobs


@router.get("/v1/admin/verify", status_code=202, **answering(VerifyJob))
def verify_log(request: Request,
               ctx: PlatformContext = platform_access("verify.run")) -> JSONResponse:
    """Starts a verification of the whole log, or answers the one already running: 202
    with the job `{id, status, started_at, finished_at, progress: {done, total}, result,
    error}` and `Location: /v1/admin/verify/{id}`, to poll until `status` is no longer
    `running`. One job runs at a time across every process; a call while it runs answers
    that job, never a second walk.

    The job re-derives every issued invoice from the log and compares it, item by item and
    cent by cent, with what was issued and what the views hold, and walks the hash chain
    over the stored log naming the first position where a stored event was changed,
    removed or reordered. It ends `passed` (`result.ok` true: nothing differs) or `failed`:
    with `result` naming what differs, or with `error` when the walk itself stopped."""
    job = _verify_jobs(request).start()
    return JSONResponse(job, status_code=202,
                        headers={"Location": f"/v1/admin/verify/{job['id']}"})


@router.get("/v1/admin/verify/{job_id}", **answering(VerifyJob))
def verify_job(job_id: UUID, request: Request,
               ctx: PlatformContext = platform_access("verify.run")) -> dict[str, Any]:
    """A verification job: `status` is `running`, `passed` or `failed`; `result` is the
    report `{ok, events_checked, invoices_checked, mismatches, chain}` once it has ended.
    The last 20 finished jobs are kept."""
    job = _verify_jobs(request).get(str(job_id))
    if job is None:
        raise NotFound(f"no verification job {job_id}")
    return job


@router.post("/v1/admin/projections/rebuild", **answering(Rebuilt))
def rebuild(ctx: PlatformContext = platform_access("admin.operate")) -> dict[str, Any]:
    return {"views": ctx.cluster.rebuild()}


@router.get("/healthz", tags=["health"], **answering(Health))
def healthz(cluster: ClusterDep) -> JSONResponse:
    """200 while any partition's database answers: `degraded` when one does not, or while
    the views hold events in quarantine (`quarantined` counts them); 503 when none does."""
    health = quarantine.health(cluster)
    if not health.serving:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse(health.as_json())


@router.get("/v1/admin/quarantine", **answering(QuarantinePage))
def list_quarantine(page: PageDep, partition: Annotated[PartitionNumber | None, Query()] = None,
                    status: Literal["failed", "held"] | None = None,
                    partner_id: UUID | None = None,
                    ctx: PlatformContext = platform_access("verify.run")) -> dict[str, Any]:
    """Events the views could not apply (`failed`, with the error) and the later events of
    their partners held behind them (`held`), in log order; the same readers as verify."""
    items, last = quarantine.listing(
        ctx.cluster, partition=partition, status=status,
        partner_id=str(partner_id) if partner_id else None, after=page.after,
        limit=page.limit)
    return {**page.answer(items, last), "quarantined": quarantine.health(ctx.cluster).quarantined}


@router.post("/v1/admin/quarantine/{partition}/{position}/retry",
             **answering(QuarantineRetried))
def retry_quarantine(partition: Annotated[PartitionNumber, Path()],
                     position: Annotated[LogPosition, Path()],
                     ctx: PlatformContext = platform_access("admin.operate")) -> dict[str, Any]:
    """Re-applies, in log order, the held events of the partner quarantined at that
    position; `released` says whether all applied, else `failed` names the event that
    failed again, with its new error."""
    if position < 1 or position > MAX_POSITION:
        raise NotFound(f"nothing in quarantine at position {position}")
    answers = quarantine.retry(ctx.cluster, partition=partition, position=position)
    return answers[0]

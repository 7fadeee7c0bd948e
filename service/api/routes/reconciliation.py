"""Reconciliation: the gateway's charges against the recorded payments (platform admin,
auditor)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.answers import answering
from service.api.auth import PlatformContext, platform_access
from service.api.operations_answers import Reconciliation
from service.api.problems import ApiProblem
from service.api.schemas import UtcDateTime
from service.ops.reconciliation import reconcile_all

router = APIRouter(tags=["operations"])


@router.get("/v1/admin/reconciliation", **answering(Reconciliation))
def reconciliation(since: UtcDateTime | None = None, until: UtcDateTime | None = None,
                   # The auditor's and the platform admin's permission, as for verify.
                   ctx: PlatformContext = platform_access("verify.run")) -> dict[str, Any]:
    """Gateway charges without a recorded payment and recorded payments without a charge,
    for attempts made in `[since, until)` (both optional)."""
    if since is not None and until is not None and since > until:
        raise ApiProblem(422, "validation_error", "since must not be after until")
    return reconcile_all(ctx.cluster.ledgers, since=since, until=until)

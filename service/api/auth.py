"""Who is calling, and what their role may do.

A partner key never reaches another partner's data: such a request gets 404, exactly
as for an id that does not exist, before any role check can reveal anything.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from aggregates.base import PARTNER, PLATFORM, Actor
from aggregates.errors import NotFound
from service.api.problems import ApiProblem
from service.runtime.as_of import ViewSource, view_source
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster

BOOTSTRAP_ADMIN_ID = "platform-admin"
# The request scope's slot for the caller, filled once per request by the authentication
# middleware (service/api/authentication.py) before the body is read.
PRINCIPAL = "partner_ledger.principal"
_PARTNER_PATH = re.compile(r"^/v1/partners/([^/]+)")

# Permission → the roles that hold it; platform roles are prefixed `platform:`.
PERMISSIONS: dict[str, frozenset[str]] = {
    name: frozenset(roles)
    for name, roles in {
        "partners.create": ["platform:admin"],
        "partners.read": ["admin", "operations", "billing", "reporting", "platform:support",
                          "platform:auditor", "platform:admin"],
        # A partner may not set its own price: it asks, and support or the platform decide.
        "pricing.change": ["platform:admin", "platform:support"],
        "pricing.request": ["admin"],
        "pricing.requests.read": ["admin", "platform:support", "platform:admin"],
        "keys.platform": ["platform:admin"],
        "keys.partner": ["admin", "platform:admin"],
        "lines.read": ["admin", "operations", "reporting", "platform:support",
                       "platform:auditor", "platform:admin"],
        "lines.write": ["admin", "operations"],
        "support.act": ["platform:support"],
        "audit.read": ["admin", "platform:support", "platform:auditor"],
        "billing.read": ["admin", "billing", "reporting", "platform:support",
                         "platform:auditor", "platform:admin"],
        "billing.write": ["admin", "billing"],
        "discounts.manage": ["platform:support", "platform:admin"],
        "admin.operate": ["platform:admin"],
        "usage.write": ["admin", "operations", "platform:admin"],
        "analytics.read": ["admin", "operations", "reporting", "platform:support",
                           "platform:auditor", "platform:admin"],
        "alerts.read": ["admin", "operations", "billing", "reporting", "platform:support",
                        "platform:auditor", "platform:admin"],
        "verify.run": ["platform:auditor", "platform:admin"],
        # The public events feed and webhooks (API.md, "Events and webhooks").
        "events.read": ["admin", "platform:support", "platform:auditor"],
        "webhooks.manage": ["admin"],
    }.items()
}


@dataclass(frozen=True)
class Principal:
    """The caller: a key's id, the role it was issued with, and its partner (None for the
    platform's keys and the bootstrap admin)."""

    key_id: str
    role: str
    partner_id: UUID | None

    @property
    def scope(self) -> str:
        return PARTNER if self.partner_id else PLATFORM

    @property
    def grant(self) -> str:
        """The name PERMISSIONS knows the role by (platform roles are prefixed)."""
        return self.role if self.partner_id else f"platform:{self.role}"

    @property
    def actor(self) -> Actor:
        return Actor(key_id=self.key_id, role=self.role, scope=self.scope)


# The dependencies below that do no I/O are `async def`: FastAPI runs a plain `def`
# dependency in a worker thread, a hop that cost more than the work itself.
async def cluster_of(request: Request) -> Cluster:
    return request.app.state.cluster


ClusterDep = Annotated[Cluster, Depends(cluster_of)]


def partition_for(cluster: Cluster, pid: str | None) -> Ledger:
    """The partition the partner `pid` lives in; the home partition for platform
    requests (and for a malformed partner id, which the route then refuses)."""
    if pid is None or len(cluster.ledgers) == 1:
        return cluster.home
    try:
        return cluster.for_partner(UUID(pid))
    except ValueError:
        return cluster.home


def partition_of_path(cluster: Cluster, path: str) -> Ledger:
    """`partition_for` the partner a raw request path names (before routing)."""
    match = _PARTNER_PATH.match(path)
    return partition_for(cluster, match.group(1) if match else None)


async def ledger_of(request: Request, cluster: ClusterDep) -> Ledger:
    return partition_for(cluster, request.path_params.get("pid"))


LedgerDep = Annotated[Ledger, Depends(ledger_of)]


def authenticate(cluster: Cluster, authorization: str, *, first: Ledger) -> Principal:
    """The caller an `Authorization` header names; 401 unless it is a live key."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "unauthorized", "send Authorization: Bearer <token>")
    token = token.strip()
    if hmac.compare_digest(token.encode(), cluster.admin_token.encode()):
        return Principal(key_id=BOOTSTRAP_ADMIN_ID, role="admin", partner_id=None)
    key = cluster.authenticate(token, first=first)
    if key is None:
        raise ApiProblem(401, "unauthorized", "unknown or revoked token")
    return Principal(key_id=str(key.id), role=key.role, partner_id=key.partner_id)


async def principal(request: Request, cluster: ClusterDep, ledger: LedgerDep) -> Principal:
    """The caller the authentication middleware found; authenticated here only where
    the middleware did not run (a route outside /v1), and then kept for the request.
    Async: taking the caller from the scope needs no worker thread."""
    return await _caller(request, cluster, ledger)


async def _caller(request: Request, cluster: Cluster, ledger: Ledger) -> Principal:
    found = request.scope.get(PRINCIPAL)
    if isinstance(found, Principal):
        return found
    who = await run_in_threadpool(authenticate, cluster,
                                  request.headers.get("Authorization", ""), first=ledger)
    request.scope[PRINCIPAL] = who
    return who


PrincipalDep = Annotated[Principal, Depends(principal)]


def permit(who: Principal, permission: str, *, partner_id: UUID | None = None) -> None:
    if partner_id is not None and who.partner_id is not None and who.partner_id != partner_id:
        raise NotFound(f"no partner {partner_id}")
    if who.grant not in PERMISSIONS[permission]:
        raise ApiProblem(403, "forbidden", f"the {who.grant} role may not do this")


@dataclass(frozen=True)
class Context:
    """A request's caller and the service, once access to the partner is settled."""

    ledger: Ledger
    who: Principal
    partner_id: UUID

    @property
    def actor(self) -> Actor:
        return self.who.actor

    def views(self, as_of: str | None) -> ViewSource:
        """The views to read: live, or as they stood at `as_of`."""
        return view_source(self.ledger, self.partner_id, as_of, strict=True)


def partner_access(permission: str) -> Any:
    # One dependency of its own, not built from `ledger_of` and `principal`: FastAPI
    # solves each dependency of every request anew (its largest Python cost on a read),
    # and these two are plain lookups. The same steps, in the same order.
    async def dependency(pid: UUID, request: Request) -> Context:
        cluster: Cluster = request.app.state.cluster
        ledger = partition_for(cluster, request.path_params.get("pid"))
        who = await _caller(request, cluster, ledger)
        permit(who, permission, partner_id=pid)
        if pid not in ledger.known_partners:  # loaded once per process, off the event loop
            await run_in_threadpool(ledger.require_partner, pid)  # 404 when it does not exist
        return Context(ledger=ledger, who=who, partner_id=pid)

    return Depends(dependency)


@dataclass(frozen=True)
class PlatformContext:
    cluster: Cluster
    ledger: Ledger  # the home partition: platform keys, the clock
    who: Principal

    @property
    def actor(self) -> Actor:
        return self.who.actor


def platform_access(permission: str) -> Any:
    async def dependency(request: Request) -> PlatformContext:
        cluster: Cluster = request.app.state.cluster
        who = await _caller(request, cluster,
                            partition_for(cluster, request.path_params.get("pid")))
        permit(who, permission)
        return PlatformContext(cluster=cluster, ledger=cluster.home, who=who)

    return Depends(dependency)

"""`GET /v1/me`: who the caller's key is and what its role may do, so a client (the portal)
shows only the actions the key may take and knows the service's current time (the as-of
picker refuses days after it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service.api.auth import PERMISSIONS, ClusterDep, PrincipalDep

router = APIRouter(prefix="/v1", tags=["partners and keys"])


class Me(BaseModel):
    """The calling key: never its token or hash."""

    key_id: str = Field(description="the key's id (`platform-admin` for the bootstrap token)")
    role: str = Field(description="the role the key was issued with")
    scope: Literal["partner", "platform"]
    partner_id: UUID | None = Field(description="the key's partner; null for platform keys")
    permissions: list[str] = Field(description="the permissions the role holds, sorted")
    now: datetime = Field(description="the service's current time (its clock, UTC)")


@router.get("/me", response_model=Me)
def read_me(who: PrincipalDep, cluster: ClusterDep) -> Me:
    """Any live key may read itself; an unknown or revoked one gets 401."""
    return Me(key_id=who.key_id, role=who.role, scope="partner" if who.partner_id else "platform",
              partner_id=who.partner_id,
              permissions=sorted(name for name, roles in PERMISSIONS.items()
                                 if who.grant in roles),
              now=cluster.home.clock.now())

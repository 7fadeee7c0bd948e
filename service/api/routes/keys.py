"""Keys: the lists of a partner's and of the platform's keys, and revoking platform keys.
Issuing keys, and revoking a partner's, are in `partners.py` with the rest of bootstrap.

A list shows each key's role, name, issue and revocation times and last use; a token is
shown once, when issued, and never again; the hash never."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status

from projections import api_keys
from service.api.answers import ListedKey, Page, answering
from service.api.auth import Context, PlatformContext, partner_access, platform_access
from service.api.paging import PageDep
from service.commands import execute
from service.commands.partners import RevokeKey

router = APIRouter(prefix="/v1", tags=["partners and keys"])


@router.get("/partners/{pid}/api-keys", **answering(Page[ListedKey]))
def list_partner_keys(page: PageDep,
                      ctx: Context = partner_access("keys.partner")) -> dict[str, Any]:
    """The partner's keys in the order issued, revoked ones included: `{id, role, name,
    created_at, revoked_at, last_used_at}`. `last_used_at` is recorded at most once a
    minute per key, so it may be up to about a minute behind."""
    rows, last = ctx.ledger.read_model.read(api_keys.list_keys, partner_id=str(ctx.partner_id),
                                            after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.get("/api-keys", **answering(Page[ListedKey]))
def list_platform_keys(page: PageDep,
                       ctx: PlatformContext = platform_access("keys.platform")) -> dict[str, Any]:
    """The platform's keys (support, auditor, admin) in the order issued; items as for a
    partner's keys. The bootstrap admin token (PORTAL_ADMIN_TOKEN) is a setting, not a key."""
    rows, last = ctx.ledger.read_model.read(api_keys.list_keys, partner_id=None,
                                            after_seq=page.after, limit=page.limit)
    return page.answer(rows, last)


@router.delete("/api-keys/{kid}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_platform_key(kid: UUID,
                        ctx: PlatformContext = platform_access("keys.platform")) -> Response:
    """Revokes a platform key: every process refuses it (401) from the moment this answers.
    A partner's key is revoked under its partner; here it is not found (404)."""
    execute(ctx.ledger, RevokeKey(partner_id=None, key_id=kid), actor=ctx.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

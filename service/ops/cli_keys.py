"""The operator's key command: revoke any key, a partner's or the platform's, by its id."""

from __future__ import annotations

import sys
from uuid import UUID

import typer
from rich.console import Console

from aggregates.api_key import ApiKey
from aggregates.base import PLATFORM, Actor
from aggregates.errors import DomainError, NotFound
from service.commands.partners import RevokeKey
from service.runtime.partitions import build_cluster

console = Console(stderr=True)
CLI_ACTOR = Actor(key_id="cli", role="admin", scope=PLATFORM)


def revoke_key_command(
    key_id: str = typer.Argument(..., metavar="KID", help="The key's id (as the lists show it)."),
) -> None:
    """Revoke an API key: every process refuses it from now on. Exits 1 when no key has
    that id, 2 when it is already revoked."""
    try:
        kid = UUID(key_id)
    except ValueError:
        console.print(f"[red]{key_id!r} is not a key id[/red]")
        sys.exit(1)
    cluster = build_cluster()
    try:
        # A partner's key is in its partner's partition, a platform key in the home one.
        for ledger in cluster.ledgers:
            try:
                key = ledger.app.load(ApiKey, kid)
            except NotFound:
                continue
            try:
                ledger.execute(RevokeKey(partner_id=key.partner_id, key_id=kid),
                               actor=CLI_ACTOR)
            except DomainError as e:
                console.print(f"[red]{e}[/red]")
                sys.exit(2)
            owner = f"partner {key.partner_id}" if key.partner_id else "the platform"
            console.print(f"revoked key {kid} ({key.role} of {owner})")
            return
        console.print(f"[red]no key {kid}[/red]")
        sys.exit(1)
    finally:
        cluster.close()


def register(app: typer.Typer) -> None:
    app.command("revoke-key")(revoke_key_command)

"""Where a read is served from: the live views, or a replica as of a past moment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from aggregates.errors import NotFound
from projections.as_of import Moment, Replica, build_replica, resolve
from service.runtime.bootstrap import Ledger

T = TypeVar("T")


@dataclass(frozen=True)
class ViewSource:
    read: Callable[..., Any]
    now: datetime
    position: int | None  # None: live


def view_source(ledger: Ledger, partner_id: UUID, as_of: str | None, *,
                strict: bool = False) -> ViewSource:
    """The views to read. An `as_of` is resolved at once (one round trip); the replica is
    found or built only when something is read from it, so a read that needs only the
    position (the audit trail) builds none. `strict`: an `as_of` before the partner's
    first event is NotFound (the API's answer: the partner did not exist then), rather
    than empty views."""
    now = ledger.clock.now()
    if as_of is None:
        return ViewSource(read=ledger.read_model.read, now=now, position=None)
    pid = str(partner_id)
    with ledger.read_model.reading() as sql:
        moment: Moment = resolve(sql, as_of, now=now, partner_id=pid)
    position = moment.partner_position or 0
    if strict and not position:
        raise NotFound(f"partner {pid} did not exist at {as_of}")

    def fetch(positions: list[int]) -> list[tuple[int, Any]]:
        return [(n.id, ledger.app.mapper.to_domain_event(n))
                for n in ledger.read_model.notifications(positions)]

    def build() -> Replica:
        with ledger.read_model.reading() as sql:
            return build_replica(sql, partner_id=pid, position=position, fetch=fetch)

    def read(query: Callable[..., T], /, **kwargs: Any) -> T:
        return ledger.replicas.get(pid, position, build).read(query, **kwargs)

    return ViewSource(read=read, now=moment.at, position=moment.position)

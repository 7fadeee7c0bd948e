"""Where a read is served from: the live views, or a replica as of a past moment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from projections.as_of import Moment, build_replica, resolve
from service.bootstrap import Ledger

T = TypeVar("T")


@dataclass(frozen=True)
class ViewSource:
    read: Callable[..., Any]
    now: datetime
    position: int | None  # None: live


def view_source(ledger: Ledger, partner_id: UUID, as_of: str | None) -> ViewSource:
    now = ledger.clock.now()
    if as_of is None:
        return ViewSource(read=ledger.read_model.read, now=now, position=None)
    with ledger.read_model.reading() as sql:
        moment: Moment = resolve(sql, as_of, now=now)

    def fetch(positions: list[int]) -> list[tuple[int, Any]]:
        return [(n.id, ledger.app.mapper.to_domain_event(n))
                for n in ledger.read_model.notifications(positions)]

    def build() -> Any:
        with ledger.read_model.reading() as sql:
            return build_replica(sql, partner_id=str(partner_id), moment=moment, fetch=fetch)

    replica = ledger.replicas.get(str(partner_id), moment, build)
    return ViewSource(read=replica.read, now=moment.at, position=moment.position)

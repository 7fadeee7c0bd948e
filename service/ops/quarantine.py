"""The quarantine of every partition, for operators: what the views hold back and why,
retrying it once the cause is fixed, and the health it implies. The HTTP routes and the
`ledger quarantine` commands both go through here (see `projections.quarantine`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aggregates.errors import InvalidInput, NotFound
from projections import quarantine
from projections.paging import split
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster

log = logging.getLogger(__name__)
# A page's cursor orders items by (position, partition) in one integer; partitions are
# fewer than this (settings allow at most 64).
KEY_BASE = 64
OK, DEGRADED, UNAVAILABLE = "ok", "degraded", "unavailable"


@dataclass(frozen=True)
class Health:
    status: str
    partitions: list[dict[str, Any]]
    quarantined: int

    @property
    def serving(self) -> bool:
        return any(p["status"] != UNAVAILABLE for p in self.partitions)

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "partitions": self.partitions,
                "quarantined": self.quarantined}


def health(cluster: Cluster) -> Health:
    """Each partition: `unavailable` when its database does not answer, `degraded` while
    its views hold events in quarantine, else `ok`. `quarantined` counts held events."""
    partitions: list[dict[str, Any]] = []
    held = 0
    for index, ledger in enumerate(cluster.ledgers):
        try:
            count = ledger.read_model.read(quarantine.count)
        except Exception as error:  # any failure to answer is what "unavailable" reports
            log.warning("partition %s: the database does not answer: %s", index,
                        quarantine.describe(error))
            partitions.append({"index": index, "status": UNAVAILABLE})
            continue
        held += count
        partitions.append({"index": index, "status": DEGRADED if count else OK})
    status = OK if all(p["status"] == OK for p in partitions) else DEGRADED
    return Health(status if any(p["status"] != UNAVAILABLE for p in partitions)
                  else UNAVAILABLE, partitions, held)


def _partitions(cluster: Cluster, partition: int | None) -> list[tuple[int, Ledger]]:
    if partition is None:
        return list(enumerate(cluster.ledgers))
    if not 0 <= partition < len(cluster.ledgers):
        raise NotFound(f"no partition {partition}: there are {len(cluster.ledgers)}")
    return [(partition, cluster.ledgers[partition])]


def listing(cluster: Cluster, *, partition: int | None = None, status: str | None = None,
            partner_id: str | None = None, after: int = 0,
            limit: int = 500) -> tuple[list[dict[str, Any]], int | None]:
    """Held events in log order (by position, then partition), after the page key `after`;
    the key of the last item when more follow."""
    start = after // KEY_BASE
    found: list[tuple[int, dict[str, Any]]] = []
    for index, ledger in _partitions(cluster, partition):
        rows = ledger.read_model.read(quarantine.listing, after=start - 1,
                                      limit=limit + 1, partner_id=partner_id, status=status)
        found += [(row["position"] * KEY_BASE + index, {**row, "partition": index})
                  for row in rows]
    page, last = split(sorted((key, row) for key, row in found if key > after), limit,
                       key=lambda keyed: keyed[0])
    return [row for _, row in page], last


def retry(cluster: Cluster, *, partition: int | None = None, position: int | None = None,
          partner_id: str | None = None) -> list[dict[str, Any]]:
    """Re-applies held events in log order, partner by partner: the partner of the event
    at `position` (in `partition`), `partner_id`'s, or every quarantined partner's. Each
    answer says whether the partner was released, or where and why it failed again."""
    if position is not None and partner_id is not None:
        raise InvalidInput("name a position or a partner, not both")
    if position is not None and partition is None:
        if len(cluster.ledgers) > 1:
            raise InvalidInput("a position needs its partition: positions are per partition")
        partition = 0
    targets: list[tuple[int, Ledger, str]] = []
    for index, ledger in _partitions(cluster, partition):
        if position is not None:
            partner = ledger.read_model.read(quarantine.partner_at, position=position)
            if partner is None:
                raise NotFound(f"nothing in quarantine at position {position} of partition "
                               f"{index}")
            targets.append((index, ledger, partner))
            continue
        partners = ledger.read_model.read(_partners)
        targets += [(index, ledger, p) for p in partners
                    if partner_id is None or p == partner_id]
    if partner_id is not None and not targets:
        raise NotFound(f"partner {partner_id} has nothing in quarantine")
    answers = []
    for index, ledger, partner in targets:
        outcome = ledger.processor.retry(partner)
        failed = None
        if outcome.failed_at is not None:
            rows = ledger.read_model.read(quarantine.listing, after=outcome.failed_at - 1,
                                          limit=1)
            failed = {**rows[0], "partition": index} if rows else None
        answers.append({"partition": index, "partner_id": partner,
                        "released": outcome.released, "applied": outcome.applied,
                        "failed": failed})
    return answers


def _partners(sql: Any) -> list[str]:
    return sorted(quarantine.quarantined_partners(sql))  # the keys: partner ids

"""One delivery runner per event store of a deployment, started where the scheduled jobs
run: in `ledger project`, and in an API process that runs the scheduler (`make run`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.webhooks.deliverer import Deliverer

if TYPE_CHECKING:
    from service.runtime.partitions import Cluster


class Deliverers:
    def __init__(self, cluster: Cluster) -> None:
        self.runners = [Deliverer.following(cluster, index)
                        for index in range(len(cluster.ledgers))] \
            if cluster.settings.webhooks else []

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def close(self) -> None:
        for runner in self.runners:
            runner.close()
